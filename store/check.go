package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The database file is buntdb's append-only log: RESP arrays, one per
// command ("*3\r\n$3\r\nset\r\n$<n>\r\n<key>\r\n$<n>\r\n<value>\r\n", five
// parts with an "ex <seconds>" expiry, "del <key>", "flushdb"). buntdb stops
// at the first record it cannot parse with "invalid database", and treats a
// record whose stated length runs past the end of the file as a write the
// process died in, truncating the file there: a length corrupted in the
// middle of the file would silently drop every call after it. Check reads
// the file the same way but goes on past a bad record, so it can say where
// the damage is, what follows it, and whether it is only a torn last write.

// CheckReport is what Check found in a database file.
type CheckReport struct {
	Path    string
	Size    int64 // bytes
	Records int   // commands that parse
	// Calls are the ids of the calls whose summary the valid records hold
	// at the end of the log, sorted.
	Calls []string
	// Damaged are the stretches of the file that are not valid records, in
	// file order. A torn last write is not among them (see TornTail).
	Damaged []Damage
	// TornTail is the length of a partial last command (the process died
	// while writing it), which buntdb cuts off at open without loss of
	// anything that was acknowledged; 0 if the file ends cleanly.
	TornTail int64
}

// OK reports whether the file opens without losing anything: no damage
// (a torn tail is normal after a crash).
func (r CheckReport) OK() bool { return len(r.Damaged) == 0 }

// Damage is a stretch of the file that holds no valid record.
type Damage struct {
	Offset, End int64  // [Offset, End) in bytes
	Reason      string // what was wrong at Offset
	// Keys are the record keys still legible in the stretch (call:c-17,
	// utt:c-17/…), which say whose data it held.
	Keys []string
}

// CallIDs returns the ids of the calls the damaged records belonged to, as
// far as their keys are legible, sorted.
func (d Damage) CallIDs() []string {
	var ids []string
	for _, k := range d.Keys {
		_, rest, _ := strings.Cut(k, ":")
		id, _, _ := strings.Cut(rest, "/")
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// keyPattern finds the store's keys in damaged bytes.
var keyPattern = regexp.MustCompile(`(?:call|utt|evt|hint|fb|gap):[A-Za-z0-9._:-]{1,64}(?:/[A-Za-z0-9._:/-]*)?`)

// errTorn means a record runs past the end of the data.
var errTorn = errors.New("record runs past the end of the file")

// parseRecord parses the command at the start of b the way buntdb's loader
// does and returns its length and parts. errTorn means b ends inside it.
func parseRecord(b []byte) (int, []string, error) {
	pos := 0
	line := func() (int, error) {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return 0, errTorn
		}
		l := b[pos : pos+i+1]
		pos += i + 1
		if len(l) < 4 || l[len(l)-2] != '\r' {
			return 0, fmt.Errorf("a header line %q does not end in CRLF", trim(l))
		}
		n, err := strconv.Atoi(string(l[1 : len(l)-2]))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("a header line %q holds no count", trim(l))
		}
		return n, nil
	}
	if len(b) == 0 {
		return 0, nil, errTorn
	}
	if b[0] != '*' {
		return 0, nil, fmt.Errorf("a record starts with %q instead of '*'", trim(b[:min(len(b), 8)]))
	}
	n, err := line()
	if err != nil {
		return 0, nil, err
	}
	if n == 0 || n > 5 {
		return 0, nil, fmt.Errorf("a record of %d parts", n)
	}
	parts := make([]string, 0, n)
	for range n {
		if pos >= len(b) {
			return 0, nil, errTorn
		}
		if b[pos] != '$' {
			return 0, nil, fmt.Errorf("a part starts with %q instead of '$'", trim(b[pos:min(len(b), pos+8)]))
		}
		size, err := line()
		if err != nil {
			return 0, nil, err
		}
		if len(b)-pos < size+2 {
			return 0, nil, errTorn
		}
		if b[pos+size] != '\r' || b[pos+size+1] != '\n' {
			return 0, nil, fmt.Errorf("a part of %d bytes is not followed by CRLF", size)
		}
		parts = append(parts, string(b[pos:pos+size]))
		pos += size + 2
	}
	switch cmd := strings.ToLower(parts[0]); {
	case cmd == "set" && (n == 3 || n == 5):
		if n == 5 {
			if a := strings.ToLower(parts[3]); a != "ex" && a != "ae" {
				return 0, nil, fmt.Errorf("a set of %q with option %q", parts[1], parts[3])
			}
			if _, err := strconv.ParseInt(parts[4], 10, 64); err != nil {
				return 0, nil, fmt.Errorf("a set of %q with expiry %q", parts[1], parts[4])
			}
		}
	case cmd == "del" && n == 2, cmd == "flushdb" && n == 1:
	default:
		return 0, nil, fmt.Errorf("a %q command of %d parts", trim([]byte(parts[0])), n)
	}
	return pos, parts, nil
}

func trim(b []byte) string {
	if len(b) > 24 {
		b = b[:24]
	}
	return strings.TrimRight(string(b), "\r\n")
}

// record is a valid command and where it is.
type record struct {
	off, end int64
	parts    []string
}

// scanWindow is the first size of scan's window; tests make it tiny so
// records straddle its edges.
var scanWindow = 1 << 20

// window is scan's view of the file: a buffer that slides along it, so the
// file is never held whole.
type window struct {
	r    io.Reader
	buf  []byte
	base int64 // file offset of buf[0]
	pos  int   // next unparsed byte in buf
	eof  bool
}

// more drops buf[:keep] and reads more, growing buf if it is full.
func (w *window) more(keep int) error {
	w.base += int64(keep)
	w.buf = w.buf[:copy(w.buf, w.buf[keep:])]
	w.pos -= keep
	if len(w.buf) == cap(w.buf) {
		w.buf = append(make([]byte, 0, 2*cap(w.buf)), w.buf...)
	}
	n, err := w.r.Read(w.buf[len(w.buf):cap(w.buf)])
	w.buf = w.buf[:len(w.buf)+n]
	if err == io.EOF {
		w.eof = true
		err = nil
	}
	return err
}

// scan reads a database file from r and calls onRecord for each valid
// record with its bytes (valid only during the call). It keeps a window of
// the file, not the file: the window grows only to hold the largest record.
func scan(r io.Reader, onRecord func(rec record, raw []byte) error) (rep CheckReport, err error) {
	w := &window{r: r, buf: make([]byte, 0, scanWindow)}
	for {
		if w.pos == len(w.buf) {
			if w.eof {
				break
			}
			if err := w.more(w.pos); err != nil {
				return rep, err
			}
			continue
		}
		if w.buf[w.pos] == 0 { // buntdb skips NUL bytes
			w.pos++
			continue
		}
		n, parts, perr := parseRecord(w.buf[w.pos:])
		if errors.Is(perr, errTorn) && !w.eof {
			if err := w.more(w.pos); err != nil {
				return rep, err
			}
			continue
		}
		if perr == nil {
			rep.Records++
			rec := record{w.base + int64(w.pos), w.base + int64(w.pos+n), parts}
			if err := onRecord(rec, w.buf[w.pos:w.pos+n]); err != nil {
				return rep, err
			}
			w.pos += n
			continue
		}
		d, found, err := w.skipDamage(perr)
		if err != nil {
			return rep, err
		}
		if !found && errors.Is(perr, errTorn) {
			// Nothing valid after it: the last write, cut short.
			rep.TornTail = w.base + int64(len(w.buf)) - d.Offset
			w.pos = len(w.buf)
			break
		}
		rep.Damaged = append(rep.Damaged, d)
	}
	rep.Size = w.base + int64(len(w.buf))
	return rep, nil
}

// skipDamage moves w.pos past the damage there, which parseRecord rejected
// with perr, to the next record that parses: a '*' after a newline. found is
// false if none follows before the end of the file. A candidate that runs
// past the end of the window is undecided until more is read, so the window
// slides on, collecting the keys of what it leaves behind.
func (w *window) skipDamage(perr error) (d Damage, found bool, err error) {
	d = Damage{Offset: w.base + int64(w.pos), Reason: perr.Error()}
	if errors.Is(perr, errTorn) {
		d.Reason = "a record's length runs past the end of the file although valid records follow it: " +
			"a corrupt length, which buntdb would take for a torn last write and truncate the file there"
	}
	q := w.pos + 1
	for {
		for ; q < len(w.buf); q++ {
			if w.buf[q] != '*' || w.buf[q-1] != '\n' {
				continue
			}
			_, _, err := parseRecord(w.buf[q:])
			if err == nil {
				found = true
				break
			}
			if errors.Is(err, errTorn) && !w.eof {
				break // undecided until more is read
			}
		}
		if found || w.eof && q >= len(w.buf) {
			break
		}
		// Keep the byte before q for the newline test.
		d.Keys = append(d.Keys, keyPattern.FindAllString(string(w.buf[w.pos:q-1]), -1)...)
		w.pos = q - 1
		if err := w.more(w.pos); err != nil {
			return d, false, err
		}
		q = w.pos + 1
	}
	d.Keys = uniq(append(d.Keys, keyPattern.FindAllString(string(w.buf[w.pos:q]), -1)...))
	d.End = w.base + int64(q)
	w.pos = q
	return d, found, nil
}

func uniq(s []string) []string {
	var out []string
	for _, k := range s {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// calls replays the call summaries of the records it is given.
type calls map[string]bool

func (c calls) record(rec record, _ []byte) error {
	switch strings.ToLower(rec.parts[0]) {
	case "set":
		if id, ok := strings.CutPrefix(rec.parts[1], "call:"); ok {
			c[id] = true
		}
	case "del":
		if id, ok := strings.CutPrefix(rec.parts[1], "call:"); ok {
			delete(c, id)
		}
	case "flushdb":
		clear(c)
	}
	return nil
}

func (c calls) sorted() []string {
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Check reads the database file at path and reports its valid records and
// its damage without changing it. It streams the file, holding only the
// largest record in memory. Run it on a store no process has open (a
// running engine may be appending); errors are I/O errors.
func Check(path string) (CheckReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return CheckReport{}, fmt.Errorf("store check: %w", err)
	}
	defer f.Close()
	c := calls{}
	rep, err := scan(f, c.record)
	if err != nil {
		return CheckReport{}, fmt.Errorf("store check: reading %s: %w", path, err)
	}
	rep.Path, rep.Calls = path, c.sorted()
	return rep, nil
}

// Repair rewrites the database file at path with its valid records only,
// after keeping the file as it was under backup (path + ".corrupt-" and the
// time). It takes the store's lock, so it fails with ErrLocked while an
// engine has the store open. The new file gets the old one's modification
// time, from which buntdb counts the records' expiry, and mode 0600. It
// returns the report of the file before the repair; a file without damage
// is left alone (backup ""). A torn last write is dropped with the damage,
// as buntdb would.
//
// What the damaged stretches held is lost (Damage.Keys says whose it was);
// every other call is kept. A call summary is rewritten with every ack, so
// a call whose latest summary was damaged comes back as of the one before.
func Repair(path string, now time.Time) (report CheckReport, backup string, err error) {
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return CheckReport{}, "", fmt.Errorf("store repair: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return CheckReport{}, "", fmt.Errorf("store repair %s: %w (stop the engine first)", path, ErrLocked)
	}
	report, err = Check(path)
	if err != nil || report.OK() {
		return report, "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return report, "", fmt.Errorf("store repair: %w", err)
	}
	tmp := path + ".repair-tmp"
	if err := copyRecords(path, tmp); err != nil {
		os.Remove(tmp)
		return report, "", fmt.Errorf("store repair: writing %s: %w", tmp, err)
	}
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		os.Remove(tmp)
		return report, "", fmt.Errorf("store repair: %w", err)
	}
	backup = path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	// A link, not a rename, for the backup: until the new file is in
	// place the database keeps its name.
	if err := os.Link(path, backup); err != nil {
		os.Remove(tmp)
		return report, "", fmt.Errorf("store repair: keeping the damaged file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		os.Remove(backup)
		return report, "", fmt.Errorf("store repair: %w", err)
	}
	return report, backup, syncDir(filepath.Dir(path))
}

// copyRecords writes the valid records of the file src to a new 0600 file
// dst, fsynced.
func copyRecords(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = scan(in, func(_ record, raw []byte) error {
		_, err := w.Write(raw)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir fsyncs a directory, so the renames in it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// corruptError is Open's error for a damaged file.
func corruptError(rep CheckReport) error {
	d := rep.Damaged[0]
	whose := ""
	if ids := d.CallIDs(); len(ids) > 0 {
		whose = fmt.Sprintf(", holding records of call %s", strings.Join(ids, ", "))
	}
	return fmt.Errorf("store: %s: %w: %d damaged stretch(es), the first at bytes %d-%d%s (%s); "+
		"`earshot store check` reports them and `earshot store check --repair` rewrites the file without them, "+
		"keeping the damaged one as a backup (docs/storage.md)", rep.Path, ErrCorrupt, len(rep.Damaged), d.Offset, d.End, whose, d.Reason)
}

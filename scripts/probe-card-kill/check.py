# Checks a stored card_payment call (GET /v1/calls/{id} JSON) and its data directory for card digits; see run.sh.
import json, sys, os, re
call = json.load(open(sys.argv[1])); data = sys.argv[2]
digits = set("zero oh one two three four five six seven eight nine".split())
turns = [(36.063,39.951),(42.231,45.059),(48.777,50.076),(53.734,54.842)]
def inturn(s,e): return any(s < b+0.5 and e > a-0.5 for a,b in turns)
bad = []
for u in call.get("utterances", []):
    if u["speaker"] == "caller" and inturn(u["start"], u["end"]):
        ws = [w for w in re.findall(r"[a-z]+", u["text"]) if w in digits]
        if ws: bad.append(("final", u["start"], u["text"]))
    print("utt %-6s %6.2f-%6.2f %s" % (u["speaker"], u["start"], u["end"], u["text"]))
for ev in call.get("events", []):
    if ev.get("type") == "transcript.partial" and ev.get("speaker") == "caller" and inturn(ev["start"], ev["end"]):
        ws = [w for w in re.findall(r"[a-z]+", ev["text"]) if w in digits]
        if ws: bad.append(("partial", ev["start"], ev["text"]))
print("digit words in card-reading turns:", bad if bad else "none")
# runs of >= 4 digit words in any file's text
keys = set("text start end confidence speaker words sentiment score label seq type call id agent t ts rolling trend replaces".split())
runs = []
for root, _, files in os.walk(data):
    for f in files:
        p = os.path.join(root, f)
        raw = open(p, "rb").read().decode("latin-1").lower()
        toks = [w for w in re.findall(r"[a-z]+", raw) if w not in keys]
        run = []
        for w in toks + [""]:
            if w in digits: run.append(w)
            else:
                if len(run) >= 4: runs.append((f, " ".join(run)))
                run = []
print("runs of 4+ digit words in data files:", runs if runs else "none")

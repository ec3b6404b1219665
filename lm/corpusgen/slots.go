package main

import (
	"math/rand/v2"
	"strings"
)

// Slot fillers. Every word here must be in the CMU dictionary; lmbuild
// reports any that are not.
var lists = map[string][]string{
	"agent": {"sarah", "michael", "jessica", "david", "emily", "james", "ashley", "daniel", "maria",
		"kevin", "laura", "brian", "nicole", "jason", "rachel", "chris", "amanda", "tom", "lisa",
		"mark", "karen", "paul", "anna", "steve", "julie", "peter", "megan", "ryan", "linda", "eric"},
	"first": {"john", "mary", "robert", "patricia", "william", "jennifer", "richard", "elizabeth",
		"joseph", "susan", "thomas", "margaret", "charles", "dorothy", "george", "helen", "frank",
		"carol", "edward", "sandra", "anthony", "donna", "kenneth", "michelle", "andrew", "betty",
		"joshua", "angela", "gary", "brenda", "raymond", "diane", "larry", "janet", "walter", "ruth"},
	"last": {"smith", "johnson", "williams", "brown", "jones", "miller", "davis", "garcia", "wilson",
		"anderson", "taylor", "thomas", "moore", "martin", "jackson", "thompson", "white", "harris",
		"clark", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott", "green",
		"baker", "adams", "nelson", "hill", "campbell", "mitchell", "roberts", "carter", "phillips",
		"evans", "turner", "parker", "collins", "edwards", "stewart", "morris", "murphy", "cook"},
	"company": {"liberty", "beacon", "skyline", "summit", "horizon", "frontier", "vista",
		"keystone", "metro", "pinnacle", "evergreen", "lakeside"},
	"service": {"internet", "broadband", "phone", "mobile", "cable", "tv", "home phone", "fiber",
		"wireless", "landline", "streaming", "home internet", "cell phone", "data"},
	"plan": {"basic", "premium", "unlimited", "family", "starter", "standard", "business", "gold",
		"silver", "platinum", "value", "essentials", "plus", "pro", "student", "prepaid"},
	"device": {"router", "modem", "set top box", "cable box", "phone", "tablet", "laptop", "computer",
		"receiver", "remote", "sim card", "hotspot", "extender", "handset", "smart tv"},
	"product": {"laptop", "headphones", "printer", "vacuum", "blender", "jacket", "shoes", "chair",
		"monitor", "camera", "watch", "coffee maker", "mattress", "phone case", "charger", "keyboard",
		"speaker", "microwave", "desk", "lamp", "backpack", "tablet", "television", "dishwasher"},
	"provider": {"another provider", "a different provider", "another company", "a competitor",
		"a cheaper provider", "a different carrier", "another carrier", "someone else"},
	"boss": {"manager", "supervisor", "team leader", "someone senior", "someone in charge",
		"a manager", "a supervisor", "your manager", "your supervisor", "your boss"},
	"street": {"main street", "oak avenue", "maple drive", "park road", "cedar lane", "elm street",
		"washington avenue", "lake road", "hill street", "river road", "church street", "pine street",
		"second street", "third avenue", "sunset boulevard", "highland avenue", "spring street"},
	"city": {"springfield", "chicago", "denver", "boston", "dallas", "seattle", "phoenix", "atlanta",
		"houston", "portland", "austin", "miami", "detroit", "columbus", "nashville", "memphis",
		"baltimore", "milwaukee", "tucson", "fresno", "sacramento", "omaha", "raleigh", "cleveland"},
	"feeling": {"frustrated", "upset", "annoyed", "angry", "disappointed", "confused", "worried",
		"fed up", "stressed", "unhappy", "tired of this", "really annoyed"},
	"period": {"three days", "two weeks", "a week", "ten days", "a month", "two months", "five days",
		"since monday", "since last week", "all weekend", "since yesterday", "over a week",
		"three weeks", "since friday", "all morning", "four days", "six weeks"},
	"fee": {"late fee", "late payment fee", "cancellation fee", "early termination fee",
		"activation fee", "installation fee", "service charge", "admin fee", "reconnect fee",
		"roaming charge", "overuse charge", "equipment fee", "restocking fee", "delivery charge"},
	"payment": {"credit card", "debit card", "bank account", "direct debit", "card", "visa",
		"mastercard", "checking account", "paypal", "card ending in"},
	"carrier": {"the courier", "the delivery driver", "the post office", "the shipping company",
		"fedex", "u p s", "the driver", "the warehouse"},
	"outage": {"no internet", "no signal", "no dial tone", "no service", "a slow connection",
		"the internet keeps dropping", "the connection keeps dropping", "the wifi keeps cutting out",
		"no picture on the tv", "calls keep dropping", "really slow speeds", "a flashing red light"},
	"light": {"red", "orange", "green", "blue", "white", "amber"},
	"reason": {"it is too expensive", "i am moving", "i found a better deal", "the service is terrible",
		"i do not use it anymore", "i am moving abroad", "the price went up again",
		"i keep having problems", "my contract is up", "i cannot afford it right now",
		"the internet is always down", "nobody ever fixes anything", "i am switching to fiber",
		"my partner already has a plan", "i am going back to school"},
	"empathy": {"i am so sorry to hear that", "i completely understand", "i understand how frustrating that is",
		"i am sorry for the trouble", "i can see why you are upset", "that must be really frustrating",
		"i apologize for the inconvenience", "i am really sorry about that", "i hear you",
		"i understand your frustration", "i would feel the same way", "thank you for your patience",
		"i appreciate you bearing with me", "i am sorry you had to call back", "let me make this right"},
	"ack": {"okay", "alright", "sure", "yes", "yeah", "right", "uh huh", "great", "perfect", "got it",
		"of course", "no problem", "absolutely", "certainly", "okay great", "alright then", "yes please",
		"sounds good", "that is fine", "mhm"},
	"greetingtime": {"good morning", "good afternoon", "good evening", "hello", "hi", "hi there"},
	"relation": {"my husband", "my wife", "my mother", "my father", "my son", "my daughter",
		"my partner", "my brother", "my sister", "my roommate"},
	"channel": {"by email", "by text", "by text message", "in the mail", "on the app", "online",
		"through the website", "on your account page"},
}

// slotFuncs produce slot values that are generated rather than listed.
var slotFuncs = map[string]func(r *rand.Rand) string{
	"money":   money,
	"date":    date,
	"expiry":  expiry,
	"year":    year,
	"clock":   clock,
	"count":   smallCount,
	"cvv":     func(r *rand.Rand) string { return digits(r, 3) },
	"last4":   func(r *rand.Rand) string { return digits(r, 4) },
	"card":    func(r *rand.Rand) string { return cardGroups(r, 4) },
	"account": func(r *rand.Rand) string { return digits(r, 6+r.IntN(5)) },
	"order":   func(r *rand.Rand) string { return digits(r, 5+r.IntN(4)) },
	"phone":   func(r *rand.Rand) string { return digits(r, 3) + " " + digits(r, 3) + " " + digits(r, 4) },
	"zip":     func(r *rand.Rand) string { return digits(r, 5) },
	"pin":     func(r *rand.Rand) string { return digits(r, 4) },
	"code":    func(r *rand.Rand) string { return digits(r, 6) },
	"house":   func(r *rand.Rand) string { return cardinal(1 + r.IntN(2000)) },
	"month":   func(r *rand.Rand) string { return months[r.IntN(12)] },
	"weekday": func(r *rand.Rand) string { return weekdays[r.IntN(7)] },
	"days":    func(r *rand.Rand) string { return cardinal(2+r.IntN(12)) + " days" },
	"percent": func(r *rand.Rand) string { return cardinal(5*(1+r.IntN(10))) + " percent" },
	"name": func(r *rand.Rand) string {
		return lists["first"][r.IntN(len(lists["first"]))] + " " + lists["last"][r.IntN(len(lists["last"]))]
	},
	"spell": func(r *rand.Rand) string {
		// Callers spell names letter by letter.
		l := lists["last"][r.IntN(len(lists["last"]))]
		var out []string
		for _, c := range l {
			out = append(out, string(c))
		}
		return strings.Join(out, " ")
	},
	"minutes": func(r *rand.Rand) string {
		return []string{"one minute", "two minutes", "five minutes", "a few minutes", "a moment",
			"thirty seconds", "a couple of minutes", "ten minutes"}[r.IntN(8)]
	},
}

// fill replaces every {slot} in t with a value drawn from r.
func fill(r *rand.Rand, t string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			break
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			panic("corpusgen: unclosed slot in template: " + t)
		}
		b.WriteString(t[:i])
		name := t[i+1 : i+j]
		if f, ok := slotFuncs[name]; ok {
			b.WriteString(f(r))
		} else if l, ok := lists[name]; ok {
			b.WriteString(l[r.IntN(len(l))])
		} else {
			panic("corpusgen: unknown slot {" + name + "}")
		}
		t = t[i+j+1:]
	}
	return b.String()
}

package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/render"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func counts(p period.Period, g query.Grouping, sources uint64, groups ...query.Count) query.Counts {
	c := query.Counts{Period: p, Grouping: g, Groups: groups, Total: query.Count{Sources: sources}}
	for _, gr := range groups {
		c.Total.Messages += gr.Messages
	}
	return c
}

func cc(key string, n, sources uint64) query.Count {
	return query.Count{Key: key, Messages: n, Sources: sources}
}

// spread adds small countries of n messages each until the groups total 10,000.
func spread(groups []query.Count, n uint64) []query.Count {
	var sum uint64
	for _, g := range groups {
		sum += g.Messages
	}
	small := []string{"AT", "BR", "ES", "DE", "IT", "RU", "IN", "TR", "RO", "NL", "AU", "SE", "MX", "GB", "AR", "VN", "TH", "UA", "ZA", "EG", "CA", "TW", "PT", "GR", "CZ"}
	for i := 0; sum < 10_000; i++ {
		m := min(n, 10_000-sum)
		groups = append(groups, cc(small[i], m, m/2))
		sum += m
	}
	return groups
}

func sampleCounts(t *testing.T) query.Counts {
	return counts(testenv.Period(t, "2005-04-01..2005-09-30"), query.ByCountry, 5000, spread([]query.Count{
		cc("US", 2650, 1400), cc("CN", 2230, 1100), cc("KR", 970, 600), cc("FR", 500, 300), cc("JP", 200, 150),
		cc("PL", 200, 140), cc("ZZ", 40, 30), cc("XR", 10, 8)}, 190)...)
}

// sample is 2005H2-like traffic compared with a year earlier, with a tie, a newcomer, unknown
// and reserved sources.
func sample(t *testing.T) Report {
	prev := counts(testenv.Period(t, "2004-04-01..2004-09-30"), query.ByCountry, 4000, spread([]query.Count{
		cc("US", 4150, 2000), cc("KR", 1542, 700), cc("CN", 1162, 500), cc("JP", 287, 100), cc("FR", 124, 60)}, 110)...)
	sophos, _ := query.LoadPublisher("sophos")
	return New(query.Compare(sampleCounts(t), &prev, 6), Namer{Publisher: sophos}, nil)
}

// emptyComparison is the sample's period against a comparison period without messages.
func emptyComparison(t *testing.T) Report {
	prev := counts(testenv.Period(t, "2004-10-01..2005-03-31"), query.ByCountry, 0)
	return New(query.Compare(sampleCounts(t), &prev, 6), Namer{}, nil)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./console/report -update rewrites it):\n%s", name, got)
	}
}

func TestGoldenOutputs(t *testing.T) {
	r := sample(t)
	for _, f := range []render.Format{render.Text, render.Markdown, render.CSV, render.JSON} {
		var b bytes.Buffer
		if err := Write(&b, r, f); err != nil {
			t.Fatal(err)
		}
		golden(t, "sample."+string(f), b.Bytes())
		b.Reset()
		if err := Write(&b, emptyComparison(t), f); err != nil {
			t.Fatal(err)
		}
		golden(t, "empty-comparison."+string(f), b.Bytes())
	}
	var b bytes.Buffer
	empty := New(query.Compare(counts(testenv.Period(t, "2006-01"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	if err := Write(&b, empty, render.Text); err != nil {
		t.Fatal(err)
	}
	golden(t, "empty.text", b.Bytes())
}

// Without a usable comparison (none asked for, or a comparison period without messages) no row
// carries comparison fields, in JSON, CSV or the tables; an empty comparison period is noted.
func TestNoComparison(t *testing.T) {
	none := New(query.Compare(sampleCounts(t), nil, 6), Namer{}, nil)
	for name, r := range map[string]Report{"no comparison": none, "empty comparison period": emptyComparison(t)} {
		var j, c, tx bytes.Buffer
		for f, b := range map[render.Format]*bytes.Buffer{render.JSON: &j, render.CSV: &c, render.Text: &tx} {
			if err := Write(b, r, f); err != nil {
				t.Fatal(err)
			}
		}
		var doc struct{ Rows []map[string]any }
		if err := json.Unmarshal(j.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, row := range doc.Rows {
			for _, k := range []string{"compare_rank", "compare_share_pct", "change_pp", "rank_change", "movement"} {
				if _, ok := row[k]; ok {
					t.Errorf("%s: JSON row %v has %s", name, row["code"], k)
				}
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(c.String()), "\n")[1:] {
			if !strings.HasSuffix(line, ",,,,,") {
				t.Errorf("%s: CSV row has comparison cells: %s", name, line)
			}
		}
		if strings.Contains(tx.String(), "Before") || strings.Contains(tx.String(), " pp ") {
			t.Errorf("%s: the table has comparison columns:\n%s", name, tx.String())
		}
	}
	if len(none.Notes) != 0 || none.Notes == nil {
		t.Errorf("notes without a comparison: %#v", none.Notes)
	}
	if got := emptyComparison(t).Notes; len(got) != 1 || got[0] != "Our traps caught no spam between October 2004 and March 2005, the comparison period: no changes are shown." {
		t.Errorf("notes with an empty comparison period: %q", got)
	}
	empty := New(query.Compare(counts(testenv.Period(t, "2003"), query.ByCountry, 0), nil, 12), Namer{}, nil)
	var b bytes.Buffer
	if err := Write(&b, empty, render.JSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"rows": [],`) {
		t.Errorf("an empty period's rows are not an empty array:\n%s", b.String())
	}
}

// The remainder row is named for the grouping, and absent with its sources when the top rows
// hold every group (continents: approximate unique counts left 0.15% of sources to a row of 0
// messages).
func TestRemainder(t *testing.T) {
	all := counts(testenv.Period(t, "2005"), query.ByContinent, 1000, cc("AS", 60, 500), cc("NA", 40, 480))
	if r := New(query.Compare(all, nil, 12), Namer{}, nil); len(r.Rows) != 2 {
		t.Errorf("every continent listed: %+v", r.Rows)
	}
	for g, want := range map[query.Grouping]string{query.ByContinent: "All other continents", query.ByASN: "All other networks", query.ByTrap: "All other traps", query.ByCountry: "All other countries"} {
		c := counts(testenv.Period(t, "2005"), g, 1000, cc("1", 60, 500), cc("2", 40, 480))
		if r := New(query.Compare(c, nil, 1), Namer{}, nil); r.Rows[1].Name != want || r.Rows[1].Sources != 500 {
			t.Errorf("%s: the remainder is %+v, want %s", g, r.Rows[1], want)
		}
	}
}

// The CSV movement column tells a newcomer from an unchanged rank, which rank_change 0 did not.
func TestCSVMovement(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample(t), render.CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, r := range rows[1:] {
		got[r[3]] = [2]string{r[14], r[15]}
	}
	for code, want := range map[string][2]string{"US": {"0", "same"}, "PL": {"", "new"}, "KR": {"-1", "down 1"}, "CN": {"1", "up 1"}, "": {"", ""}} {
		if got[code] != want {
			t.Errorf("%q: rank_change, movement = %q, want %q", code, got[code], want)
		}
	}
}

// The sample's sentences are in the golden outputs, and every grouping's under
// testdata/sentences.
func TestSentences(t *testing.T) {
	// Rows no GeoIP data placed never lead a sentence and are not counted in the places said.
	placed := New(query.Compare(counts(testenv.Period(t, "2005"), query.ByCountry, 0,
		cc("ZZ", 50, 0), cc("US", 30, 0), cc("XR", 15, 0), cc("CN", 5, 0)), nil, 12), Namer{}, nil)
	for _, want := range []string{
		"In 2005 the United States relayed 30.0% of the spam caught by our traps; China was second with 5.0%.",
		"Not ranked: spam from senders that cannot be placed in a country, listed as Unknown (50.0%) and Reserved address (15.0%).",
	} {
		if !slices.Contains(placed.Sentences, want) {
			t.Errorf("unplaced rows: sentences\n%s\nlack %q", strings.Join(placed.Sentences, "\n"), want)
		}
	}
	// The table agrees: the unplaced rows have no rank, China is second there too.
	var ranks []int
	for _, l := range placed.Rows {
		ranks = append(ranks, l.Rank)
	}
	if !slices.Equal(ranks, []int{0, 1, 0, 2}) {
		t.Errorf("ranks of Unknown, US, Reserved, China: %v, want [0 1 0 2]", ranks)
	}
	// Against a year in which Unknown led too: no movement for it, China climbed from third.
	before := counts(testenv.Period(t, "2004"), query.ByCountry, 0, cc("ZZ", 60, 0), cc("US", 20, 0), cc("KR", 15, 0), cc("CN", 5, 0))
	compared := New(query.Compare(counts(testenv.Period(t, "2005"), query.ByCountry, 0,
		cc("ZZ", 50, 0), cc("US", 30, 0), cc("XR", 15, 0), cc("CN", 5, 0)), &before, 12), Namer{}, nil)
	unknown, china := compared.Rows[0], compared.Rows[3]
	if unknown.Movement != "" || unknown.PreviousRank != nil || unknown.ChangePP == nil || *unknown.ChangePP != -10 {
		t.Errorf("Unknown against 2004: movement %q, previous rank %v, change %v", unknown.Movement, unknown.PreviousRank, unknown.ChangePP)
	}
	if china.Movement != "up 1" || *china.PreviousRank != 3 {
		t.Errorf("China against 2004: movement %q, previous rank %d", china.Movement, *china.PreviousRank)
	}
}

// The sentences of every grouping, in every case, are golden files under testdata/sentences,
// one sentence a line: read them when a template changes.
func TestSentencesByGrouping(t *testing.T) {
	type group struct {
		key, name string
	}
	kinds := []struct {
		g        query.Grouping
		groups   []group // six placed groups
		unplaced string  // a key no GeoIP data placed; none for traps
	}{
		{query.ByCountry, []group{{"US", ""}, {"CN", ""}, {"KR", ""}, {"FR", ""}, {"JP", ""}, {"NL", ""}}, "ZZ"},
		{query.ByContinent, []group{{"AS", ""}, {"NA", ""}, {"EU", ""}, {"SA", ""}, {"AF", ""}, {"OC", ""}}, ""},
		{query.ByASN, []group{{"4134", "Chinanet"}, {"4766", "Korea Telecom"}, {"7018", "AT&T Services"},
			{"3462", "HiNet"}, {"9121", "Turk Telekom"}, {"64512", ""}}, "0"},
		{query.ByTrap, []group{{"sales-mx", ""}, {"old-forum", ""}, {"expired-domain", ""}, {"typo-domain", ""},
			{"catch-all", ""}, {"newsletter", ""}}, "-"},
	}
	current, year := testenv.Period(t, "2005-04-01..2005-09-30"), testenv.Period(t, "2004-04-01..2004-09-30")
	for _, k := range kinds {
		// rows makes the counts of k's groups, in order, then of its unplaced key.
		rows := func(p period.Period, sources uint64, messages ...uint64) query.Counts {
			var groups []query.Count
			for i, n := range messages {
				if n == 0 {
					continue
				}
				c := query.Count{Messages: n, Sources: n / 2}
				if i < len(k.groups) {
					c.Key, c.Name = k.groups[i].key, k.groups[i].name
				} else if c.Key = k.unplaced; k.unplaced == "-" {
					continue
				}
				groups = append(groups, c)
			}
			slices.SortStableFunc(groups, func(a, b query.Count) int { return int(b.Messages) - int(a.Messages) })
			return counts(p, k.g, sources, groups...)
		}
		// A fall of the leader, bigger than any other,, a rise, a tie for third place, a newcomer and unplaced rows.
		moving := rows(current, 5000, 2650, 2230, 970, 970, 500, 200, 480)
		cases := map[string]query.Table{
			"compared":         query.Compare(moving, ptr(rows(year, 4000, 4150, 1162, 1542, 287, 124, 0, 300)), 12),
			"empty-comparison": query.Compare(moving, ptr(rows(current.Previous(), 0)), 12),
			// The leader's and the runner-up's shares read alike with one decimal.
			"no-comparison": query.Compare(rows(current, 5000, 2654, 2652, 970, 500, 200, 200, 2824), nil, 12),
			// The leader's share is the same as a year earlier.
			"tie-at-top": query.Compare(rows(current, 1000, 500, 500, 500, 300), ptr(rows(year, 900, 500, 600, 400, 300)), 12),
			"one-source": query.Compare(counts(current, k.g, 1, query.Count{Key: k.groups[0].key, Name: k.groups[0].name, Messages: 4, Sources: 1}), nil, 12),
		}
		if k.unplaced != "-" {
			only := rows(current, 40, 0, 0, 0, 0, 0, 0, 80)
			if k.g == query.ByCountry {
				only = counts(current, k.g, 40, cc("ZZ", 80, 30), cc("XR", 20, 10))
			}
			cases["only-unplaced"] = query.Compare(only, nil, 12)
		}
		for name, table := range cases {
			got := strings.Join(Sentences(table, Namer{}), "\n") + "\n"
			golden(t, filepath.Join("sentences", string(k.g)+"-"+name+".txt"), []byte(got))
			for _, banned := range []string{"rest of the world", "  ", " ,", "..", "%%"} {
				if strings.Contains(got, banned) {
					t.Errorf("%s %s: sentences have %q:\n%s", k.g, name, banned, got)
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// One decimal, unless two shares of a sentence would then read alike while they differ; a
// change never reads as none when there is one.
func TestQuoting(t *testing.T) {
	for _, c := range []struct {
		shares []float64
		want   []string
	}{
		{[]float64{26.5, 41.5, 22.3}, []string{"26.5%", "41.5%", "22.3%"}},
		{[]float64{2, 2}, []string{"2.0%", "2.0%"}},
		{[]float64{22.349, 22.28, 9.7}, []string{"22.35%", "22.28%", "9.7%"}},
		{[]float64{26.5, 26.45, 26.5}, []string{"26.50%", "26.45%", "26.50%"}},
		{[]float64{11.62}, []string{"11.6%"}},
	} {
		q := quoting(c.shares...)
		for i, p := range c.shares {
			if got := q.share(p); got != c.want[i] {
				t.Errorf("quoting(%v).share(%v) = %s, want %s", c.shares, p, got, c.want[i])
			}
		}
	}
	for _, c := range []struct {
		a, b float64
		want string
	}{{22.3, 11.62, "+10.7"}, {9.7, 15.42, "−5.7"}, {2.24, 2.26, "−0.02"}, {22.34, 22.28, "+0.06"}, {26.52, 26.48, "+0.04"}} {
		if got := quoting(c.a, c.b).change(c.a, c.b); got != c.want {
			t.Errorf("change from %v to %v = %s, want %s", c.b, c.a, got, c.want)
		}
	}
}

func TestPeriodText(t *testing.T) {
	for in, want := range map[string]string{
		"2005": "in 2005", "2005Q2": "in the second quarter of 2005", "2005-04": "in April 2005",
		"2005-04-01..2005-09-30": "between April and September 2005", "2004-10-01..2005-03-31": "between October 2004 and March 2005",
		"2005-04-01..2005-04-15": "between 1 and 15 April 2005", "2005-04-20..2005-05-03": "between 20 April and 3 May 2005",
		"2005-04-20": "on 20 April 2005",
	} {
		if got := PeriodText(testenv.Period(t, in)); got != want {
			t.Errorf("PeriodText(%s) = %q, want %q", in, got, want)
		}
	}
	q2 := testenv.Period(t, "2005Q2")
	if got := CompareText(q2, q2.Previous()); got != "in the previous quarter" {
		t.Errorf("CompareText previous quarter = %q", got)
	}
	if got := CompareText(q2, testenv.Period(t, "2004")); got != "in 2004" {
		t.Errorf("CompareText other = %q", got)
	}
}

// Issue 18, finding 15: trap ids and network names come from the outside world; in the CSV a
// text cell that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first)
// starts with a single quote, while numbers, negative changes included, stay numbers.
func TestCSVNeutralisesFormulas(t *testing.T) {
	hostile := []string{`=HYPERLINK("http://evil.example","x")`, "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"}
	var groups, before []query.Count
	for i, id := range hostile {
		groups = append(groups, cc(id, uint64(100+10*i), 10))
		before = append(before, cc(id, uint64(200-10*i), 10))
	}
	prev := counts(testenv.Period(t, "2004"), query.ByTrap, 60, before...)
	r := New(query.Compare(counts(testenv.Period(t, "2005"), query.ByTrap, 60, groups...), &prev, 12), Namer{}, nil)
	var b bytes.Buffer
	if err := Write(&b, r, render.CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen, negative := map[string]bool{}, 0
	for _, row := range rows[1:] {
		code, name, change := row[3], row[4], row[13]
		if code != name || !strings.HasPrefix(code, "'") || !slices.Contains(hostile, code[1:]) {
			t.Errorf("code %q, name %q: want the trap id after a single quote", code, name)
			continue
		}
		seen[code[1:]] = true
		if v, err := strconv.ParseFloat(change, 64); err != nil {
			t.Errorf("%q: change_pp %q is not a number", code, change)
		} else if v < 0 {
			negative++
		}
	}
	if len(seen) != len(hostile) || negative == 0 {
		t.Errorf("trap ids seen %v, negative changes %d; want all %d and some negative", seen, negative, len(hostile))
	}
}

package mailparse

import (
	"strconv"
	"strings"
	"time"
)

// maxDateBytes is more than any date with its comments needs; the rest is not looked at.
const maxDateBytes = 256

// parseDate parses the date of a Date or Received header leniently: RFC 5322 and its obsolete
// forms, and what real mailers write — no weekday, two-digit years, asctime order, ISO 8601, named
// zones ("PST", also only in a comment), "GMT+0200", "03-Sep-2024". Fields are recognised by their
// shape rather than their position. A date without zone is taken as UTC. It returns the zero time
// when day, month, year, hour or minute is missing or out of range.
func parseDate(s string) time.Time {
	if len(s) > maxDateBytes {
		s = s[:maxDateBytes]
	}
	var main, comments strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
			comments.WriteByte(' ')
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
			comments.WriteByte(c)
		case c == ',':
			main.WriteByte(' ')
		default:
			main.WriteByte(c)
		}
	}
	var d dateFields
	for _, field := range strings.Fields(strings.ToLower(main.String())) {
		d.field(field, true)
	}
	if !d.zoneSet {
		for _, field := range strings.Fields(strings.ToLower(comments.String())) {
			if offset, ok := zoneOffsets[field]; ok {
				d.setZone(offset, false)
				break
			}
		}
	}
	return d.time()
}

// dateFields collects the fields of a date as they are recognised.
type dateFields struct {
	year, month, day             int
	hour, minute, second, offset int
	yearSet, timeSet             bool
	zoneSet, numericZone         bool
}

// field recognises one lowercased whitespace-separated field; split allows one level of
// splitting on '-' ("03-sep-2024").
func (d *dateFields) field(f string, split bool) {
	switch {
	case f == "":
	case isDigits(f):
		n, _ := strconv.Atoi(f[:min(len(f), 4)])
		switch {
		case len(f) <= 2 && d.day == 0:
			d.day = n
		case len(f) <= 4 && !d.yearSet:
			d.year, d.yearSet = expandYear(n, len(f)), true
		}
	case len(f) >= 10 && isDigits(f[:4]) && f[4] == '-' && isDigits(f[5:7]) && f[7] == '-' && isDigits(f[8:10]):
		d.year, _ = strconv.Atoi(f[:4])
		d.month, _ = strconv.Atoi(f[5:7])
		d.day, _ = strconv.Atoi(f[8:10])
		d.yearSet = true
		if rest := f[10:]; strings.HasPrefix(rest, "t") {
			d.clock(rest[1:])
		}
	case isDigit(f[0]) && strings.Contains(f, ":"):
		d.clock(f)
	case f[0] == '+' || f[0] == '-':
		d.numericOffset(f)
	case strings.HasPrefix(f, "gmt") || strings.HasPrefix(f, "utc"):
		d.field(f[3:], false)
		if !d.zoneSet {
			d.setZone(0, false)
		}
	case f == "am" || f == "pm":
		if d.timeSet && d.hour >= 1 && d.hour <= 12 {
			d.hour %= 12
			if f == "pm" {
				d.hour += 12
			}
		}
	default:
		if month := monthNumber(strings.TrimSuffix(f, ".")); month > 0 && d.month == 0 {
			d.month = month
		} else if offset, ok := zoneOffsets[f]; ok {
			d.setZone(offset, false)
		} else if split && strings.Contains(f, "-") {
			for part := range strings.SplitSeq(f, "-") {
				d.field(part, false)
			}
		}
	}
}

// clock reads "hh:mm[:ss[.frac]]" and whatever zone is glued to it ("10:00:00z", "10:00+0200").
func (d *dateFields) clock(f string) {
	end := 0
	for end < len(f) && (isDigit(f[end]) || f[end] == ':' || f[end] == '.') {
		end++
	}
	clock, zone := f[:end], f[end:]
	clock, _, _ = strings.Cut(clock, ".")
	parts := strings.Split(clock, ":")
	if d.timeSet || len(parts) < 2 || len(parts) > 3 {
		return
	}
	var values [3]int
	for i, part := range parts {
		if len(part) == 0 || len(part) > 2 || !isDigits(part) {
			return
		}
		values[i], _ = strconv.Atoi(part)
	}
	d.hour, d.minute, d.second, d.timeSet = values[0], values[1], values[2], true
	if zone != "" {
		d.field(zone, false)
	}
}

// numericOffset reads "+hhmm", "-hh:mm", "+hh" or "+h".
func (d *dateFields) numericOffset(f string) {
	digits := strings.Replace(f[1:], ":", "", 1)
	if !isDigits(digits) || len(digits) > 4 {
		return
	}
	n, _ := strconv.Atoi(digits)
	hours, minutes := n, 0
	if len(digits) > 2 {
		hours, minutes = n/100, n%100
	}
	if hours > 23 || minutes > 59 {
		return
	}
	offset := hours*3600 + minutes*60
	if f[0] == '-' {
		offset = -offset
	}
	d.setZone(offset, true)
}

// setZone records a zone; a numeric offset wins over a name.
func (d *dateFields) setZone(offset int, numeric bool) {
	if d.numericZone || (d.zoneSet && !numeric) {
		return
	}
	d.offset, d.zoneSet, d.numericZone = offset, true, numeric
}

func (d *dateFields) time() time.Time {
	if d.day < 1 || d.day > 31 || d.month == 0 || !d.yearSet || d.year < 1900 || d.year > 9999 ||
		!d.timeSet || d.hour > 23 || d.minute > 59 || d.second > 60 {
		return time.Time{}
	}
	if time.Date(d.year, time.Month(d.month), d.day, 0, 0, 0, 0, time.UTC).Day() != d.day {
		return time.Time{} // 31 September and the like
	}
	location := time.UTC
	if d.offset != 0 {
		location = time.FixedZone("", d.offset)
	}
	return time.Date(d.year, time.Month(d.month), d.day, d.hour, d.minute, d.second, 0, location)
}

// expandYear applies RFC 5322's rule for obsolete years: 00-49 are 2000-2049, 50-99 and
// three-digit years count from 1900.
func expandYear(year, digits int) int {
	switch {
	case digits <= 2 && year < 50:
		return 2000 + year
	case digits <= 3:
		return 1900 + year
	}
	return year
}

// monthNumber returns 1-12 for an English month name or an abbreviation of it ("sep", "sept"), else 0.
func monthNumber(f string) int {
	for i, name := range [...]string{"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"} {
		if len(f) >= 3 && strings.HasPrefix(name, f) {
			return i + 1
		}
	}
	return 0
}

// zoneOffsets are the zone names seen in mail, in seconds east of UTC. Ambiguous names take
// their most common meaning in mail (CST is US Central, IST is India).
var zoneOffsets = map[string]int{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0,
	"est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600, "cdt": -5 * 3600,
	"mst": -7 * 3600, "mdt": -6 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600,
	"akst": -9 * 3600, "akdt": -8 * 3600, "hst": -10 * 3600, "ast": -4 * 3600, "adt": -3 * 3600,
	"nst": -3*3600 - 1800, "brt": -3 * 3600, "art": -3 * 3600,
	"bst": 3600, "west": 3600, "cet": 3600, "met": 3600, "wat": 3600,
	"cest": 2 * 3600, "mest": 2 * 3600, "eet": 2 * 3600, "sast": 2 * 3600,
	"eest": 3 * 3600, "msk": 3 * 3600, "eat": 3 * 3600, "msd": 4 * 3600,
	"pkt": 5 * 3600, "ist": 5*3600 + 1800, "ict": 7 * 3600, "wib": 7 * 3600,
	"sgt": 8 * 3600, "hkt": 8 * 3600, "awst": 8 * 3600, "jst": 9 * 3600, "kst": 9 * 3600,
	"acst": 9*3600 + 1800, "aest": 10 * 3600, "aedt": 11 * 3600, "nzst": 12 * 3600, "nzdt": 13 * 3600,
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

package render

import (
	"fmt"
	"time"

	"github.com/spamgeo/spamgeo/internal/period"
)

// ShortPeriod names a period as a chart's legend or title does: "2005", "2004–2007", "Q2
// 2005", "May 2005", "Apr–Sep 2005", "Nov 2004–Feb 2005", "20 Apr 2005", "1–15 Apr 2005".
func ShortPeriod(p period.Period) string {
	from, last := p.From, p.Last()
	if from.Day() == 1 && p.To.Day() == 1 {
		months := (p.To.Year()-from.Year())*12 + int(p.To.Month()) - int(from.Month())
		switch {
		case months%12 == 0 && from.Month() == time.January:
			if months == 12 {
				return fmt.Sprint(from.Year())
			}
			return fmt.Sprintf("%d–%d", from.Year(), last.Year())
		case months == 3 && (from.Month()-1)%3 == 0:
			return fmt.Sprintf("Q%d %d", (from.Month()-1)/3+1, from.Year())
		case months == 1:
			return from.Format("Jan 2006")
		case from.Year() == last.Year():
			return from.Format("Jan") + "–" + last.Format("Jan 2006")
		}
		return from.Format("Jan 2006") + "–" + last.Format("Jan 2006")
	}
	switch {
	case from.Equal(last):
		return from.Format("2 Jan 2006")
	case from.Year() == last.Year() && from.Month() == last.Month():
		return fmt.Sprintf("%d–%s", from.Day(), last.Format("2 Jan 2006"))
	case from.Year() == last.Year():
		return from.Format("2 Jan") + "–" + last.Format("2 Jan 2006")
	}
	return from.Format("2 Jan 2006") + "–" + last.Format("2 Jan 2006")
}

// Package spreadsheet keeps text that comes from the outside world (trap ids, network names,
// mail subjects and domains) from being run as a formula when a CSV file spamgeo wrote is
// opened in a spreadsheet.
package spreadsheet

import "strings"

// formulaStarts are the first characters that make spreadsheets read a cell as a formula,
// OWASP's list for CSV injection: =, +, -, @, tab and carriage return.
const formulaStarts = "=+-@\t\r"

// Text is s as a CSV text cell: when s begins with one of formulaStarts a single quote goes
// before it, which spreadsheets take as "this is text" and do not show. Numbers are written
// without Text, so that a negative one such as -15.0000 stays a number.
func Text(s string) string {
	if s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

package trap

import "testing"

func TestEnvelopeAddress(t *testing.T) {
	for path, want := range map[string]string{
		"victim@trap.example":             "victim@trap.example",
		"Mixed.Case@Trap.Example":         "Mixed.Case@Trap.Example",
		"user@other.example@trap.example": `"user@other.example"@trap.example`,
		`say "hi"@trap.example`:           `"say \"hi\""@trap.example`,
		`back\slash@trap.example`:         `"back\\slash"@trap.example`,
		"john doe@sender.test":            `"john doe"@sender.test`,
		"a..b@trap.example":               "a..b@trap.example", // go-smtp takes it unquoted: kept as sent
		"x@trap.example@other.example":    `"x@trap.example"@other.example`,
		"tab\there@trap.example":          "\"tab\there\"@trap.example",
		"user@[192.0.2.1]":                "user@[192.0.2.1]",
		"":                                "",
		"postmaster":                      "postmaster",
		"ünïcode@trap.example":            "ünïcode@trap.example",
	} {
		if got := envelopeAddress(path); got != want {
			t.Errorf("envelopeAddress(%q) = %q, want %q", path, got, want)
		}
	}
}

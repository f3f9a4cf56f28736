package trap

import "strings"

// envelopeAddress is an envelope address as the client wrote it. go-smtp hands the trap a path with its
// quoted local part unquoted: <"user@other.example"@trap.example> arrives as
// user@other.example@trap.example, and <"a\"b"@x> as a"b@x. The domain is what follows the last
// "@" (no domain has one); the local part is quoted again, its quotes and backslashes escaped,
// when it holds a character go-smtp accepts only in a quoted string. A local part quoted with no
// need ("plain"@x) comes back unquoted, the same mailbox; one written unquoted stays as written.
func envelopeAddress(path string) string {
	at := strings.LastIndexByte(path, '@')
	if at < 0 {
		return path // the null reverse-path <>, or postmaster
	}
	local, domain := path[:at], path[at:]
	if !strings.ContainsAny(local, "()<>[]:;\\,\" \t@") {
		return path
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(local) {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	b.WriteString(domain)
	return b.String()
}

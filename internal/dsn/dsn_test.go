package dsn

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, user, pw, host string
		port               uint16
		db, tls            string
	}{
		{"root:@tcp(127.0.0.1:3307)/", "root", "", "127.0.0.1", 3307, "", ""},
		{"repl:s3cr@t@tcp(localhost:3306)/db?tls=required", "repl", "s3cr@t", "localhost", 3306, "db", "required"},
		{"mysql://u:pw9x@127.0.0.1:4000/x?tls=verify-ca", "u", "pw9x", "127.0.0.1", 4000, "x", "verify-ca"},
		{"u@tcp(127.0.0.1)/", "u", "", "127.0.0.1", 3306, "", ""},
	} {
		d, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if d.User != c.user || d.Password != c.pw || d.Host != c.host || d.Port != c.port || d.DB != c.db || d.Params["tls"] != c.tls {
			t.Errorf("Parse(%q) = %+v", c.in, d)
		}
		if c.pw != "" && contains(d.String(), c.pw) {
			t.Errorf("String() leaks the password: %s", d.String())
		}
	}
	for _, bad := range []string{"", "u@tcp(h:0)/", "u@unix(/tmp/s)/"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || index(s, sub) >= 0)
}

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Package dsn parses the server addresses mtreplica is given.
//
// Two forms are accepted:
//
//	user:password@tcp(127.0.0.1:3306)/dbname?tls=required   (go-sql-driver style)
//	mysql://user:password@127.0.0.1:3306/dbname?tls=required
//
// The password may be left out and supplied from a file or the environment
// instead (see cmd/mtreplica). Parameters: tls (disabled|preferred|required|verify-ca|verify-identity),
// tls-ca, tls-cert, tls-key, flavor (mariadb|mysql). String never prints the password.
package dsn

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DSN is a parsed server address.
type DSN struct {
	User     string
	Password string
	Host     string
	Port     uint16
	DB       string
	Params   map[string]string
}

// Addr returns host:port.
func (d DSN) Addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port))) }

// String prints the DSN with the password masked.
func (d DSN) String() string {
	pw := ""
	if d.Password != "" {
		pw = ":***"
	}
	s := fmt.Sprintf("%s%s@tcp(%s)/%s", d.User, pw, d.Addr(), d.DB)
	if len(d.Params) > 0 {
		v := url.Values{}
		for k, x := range d.Params {
			v.Set(k, x)
		}
		s += "?" + v.Encode()
	}
	return s
}

// Parse parses either accepted form.
func Parse(s string) (DSN, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DSN{}, fmt.Errorf("empty DSN: want user:password@tcp(host:port)/ or mysql://user:password@host:port/")
	}
	if strings.HasPrefix(s, "mysql://") || strings.HasPrefix(s, "mariadb://") {
		u, err := url.Parse(s)
		if err != nil {
			return DSN{}, fmt.Errorf("parse DSN: %v", redact(err, s))
		}
		d := DSN{User: u.User.Username(), DB: strings.TrimPrefix(u.Path, "/"), Params: map[string]string{}}
		d.Password, _ = u.User.Password()
		if err := d.setHostPort(u.Host); err != nil {
			return DSN{}, err
		}
		for k, v := range u.Query() {
			d.Params[k] = v[0]
		}
		return d, nil
	}
	d := DSN{Params: map[string]string{}}
	at := strings.LastIndex(s, "@")
	rest := s
	if at >= 0 {
		cred := s[:at]
		rest = s[at+1:]
		d.User, d.Password, _ = strings.Cut(cred, ":")
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		vals, err := url.ParseQuery(rest[q+1:])
		if err != nil {
			return DSN{}, fmt.Errorf("parse DSN parameters: %w", err)
		}
		for k, v := range vals {
			d.Params[k] = v[0]
		}
		rest = rest[:q]
	}
	addr, db, _ := strings.Cut(rest, "/")
	d.DB = db
	switch {
	case strings.HasPrefix(addr, "tcp(") && strings.HasSuffix(addr, ")"):
		addr = addr[4 : len(addr)-1]
	case strings.HasPrefix(addr, "unix("):
		return DSN{}, fmt.Errorf("parse DSN: unix sockets are not supported; use tcp(host:port)")
	}
	if err := d.setHostPort(addr); err != nil {
		return DSN{}, err
	}
	return d, nil
}

func (d *DSN) setHostPort(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:3306"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "3306"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("parse DSN: bad port %q", port)
	}
	d.Host, d.Port = host, uint16(p)
	return nil
}

func redact(err error, s string) string {
	return strings.ReplaceAll(err.Error(), s, "<dsn>")
}

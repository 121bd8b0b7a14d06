package rowsql

// Temporal values arrive as text that go-mysql formatted from the binlog image. They are checked field by field
// before use: a well-formed, in-range value is quoted as it is; anything else means the image was not decoded
// right (MariaDB's pre-10.1.2 fractional TIME/DATETIME/TIMESTAMP format is read by go-mysql as the old 3-, 8- and
// 4-byte types and comes out as garbage such as "1162405782-38-93 15:91:70") and is refused, never written.

// digits reads n decimal digits at s[i:], returning the value and whether they were all digits.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// validFraction accepts "" or "." followed by 1 to 6 digits.
func validFraction(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != '.' || len(s) < 2 || len(s) > 7 {
		return false
	}
	_, ok := digits(s, 1, len(s)-1)
	return ok
}

// validDate accepts YYYY-MM-DD with month 0-12 and day 0-31 (zero parts are MySQL's zero dates).
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	return ok1 && ok2 && ok3 && m <= 12 && d <= 31
}

// validClock accepts HH:MM:SS[.ffffff] with HH at most maxHour (hours may have 2 or 3 digits).
func validClock(s string, maxHour int) bool {
	colon := -1
	for i := 0; i < len(s) && i < 4; i++ {
		if s[i] == ':' {
			colon = i
			break
		}
	}
	if colon < 2 {
		return false
	}
	h, ok1 := digits(s, 0, colon)
	rest := s[colon:]
	if len(rest) < 6 || rest[0] != ':' || rest[3] != ':' {
		return false
	}
	m, ok2 := digits(rest, 1, 2)
	sec, ok3 := digits(rest, 4, 2)
	return ok1 && ok2 && ok3 && h <= maxHour && m <= 59 && sec <= 59 && validFraction(rest[6:])
}

// validDateTime accepts YYYY-MM-DD HH:MM:SS[.ffffff].
func validDateTime(s string) bool {
	return len(s) >= 19 && s[10] == ' ' && validDate(s[:10]) && validClock(s[11:], 23)
}

// validTime accepts [-]HH:MM:SS[.ffffff] within TIME's range, -838:59:59 to 838:59:59.
func validTime(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return validClock(s, 838)
}

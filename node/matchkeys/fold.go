package matchkeys

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// maxPartRunes bounds the work done on one name part; v1 bounds names more
// tightly, this only keeps the package safe on its own.
const maxPartRunes = 200

// partForms returns the folded forms of one name part (a given or a family
// name, possibly of several words): the skeleton of all its words joined,
// and, for several words, of its last word ("Van Nam" also gives "Nam").
func partForms(s string) []string {
	words := latinWords(s)
	if len(words) == 0 {
		return nil
	}
	joined := strings.Join(words, "")
	forms := []string{skeleton(stripArticle(joined))}
	if len(words) > 1 {
		forms = append(forms, skeleton(stripArticle(words[len(words)-1])))
	}
	if strings.HasSuffix(joined, "aj") && len(joined) > 3 {
		// Albanian definite forms (Hoxha, Hoxhaj; Kola, Kolaj) without
		// losing an Arabic final j (Faraj, Farag).
		forms = append(forms, skeleton(stripArticle(joined[:len(joined)-1])))
	}
	return sortedUnique(forms)
}

// latinWords lower-cases s, removes diacritics, maps the Latin letters that
// do not decompose (đ, ł, ø, ß...), and splits it into words of a-z at every
// other character (spaces, hyphens, apostrophes, slashes, dots). Letters of
// other scripts are dropped: the original-script key covers them.
func latinWords(s string) []string {
	var words []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	n := 0
	for _, r := range norm.NFD.String(s) {
		if n++; n > 4*maxPartRunes {
			break
		}
		if unicode.Is(unicode.Mn, r) {
			continue // a combining mark: the diacritic of the letter before
		}
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z':
			w.WriteRune(r)
		case r == 'đ' || r == 'ð':
			w.WriteByte('d')
		case r == 'ł':
			w.WriteByte('l')
		case r == 'ø':
			w.WriteByte('o')
		case r == 'ı':
			w.WriteByte('i')
		case r == 'ß':
			w.WriteString("ss")
		case r == 'æ':
			w.WriteString("ae")
		case r == 'œ':
			w.WriteString("oe")
		case r == 'þ':
			w.WriteString("th")
		default:
			flush()
		}
	}
	flush()
	return words
}

// stripArticle drops a leading Arabic article, al- or el-, joined or not
// ("Al-Amin", "El Amin", "Elamin" and "Alamin" all become "amin"), when
// enough of the name is left and the next letter is a consonant or an a, so
// that it is likely an article and not the start of a name such as "Elias",
// "Aliyah" or "Alban".
func stripArticle(s string) string {
	if len(s) >= 6 && (strings.HasPrefix(s, "al") || strings.HasPrefix(s, "el")) &&
		(s[2] == 'a' || !isVowel(s[2])) {
		return s[2:]
	}
	return s
}

// digraphs are folded before single letters, longest first.
var digraphs = strings.NewReplacer(
	"sch", "s",
	"xh", "g", "zh", "g", "dj", "g", "gj", "g",
	"kh", "k", "gh", "g", "ph", "f", "th", "t", "dh", "d",
	"ch", "k", "ck", "k", "sh", "s",
)

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u', 'y':
		return true
	}
	return false
}

// skeleton reduces a lower-case a-z word to the consonants that survive the
// spellings records show for one name: Mohammed, Muhammad, Mohamed and
// Mohammad all give "md"; Abdelrahman and Abdel Rahman "bdlrmn"... It is
// deliberately lossy: a skeleton is only ever compared together with a
// second name part and a date of birth.
func skeleton(s string) string {
	if len(s) > maxPartRunes {
		s = s[:maxPartRunes]
	}
	s = digraphs.Replace(s)
	out := make([]byte, 0, len(s))
	emit := func(c byte) {
		if n := len(out); n > 0 && out[n-1] == c {
			return // doubled letters count once
		}
		out = append(out, c)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		prevVowel := i > 0 && isVowel(s[i-1])
		nextVowel := i+1 < len(s) && isVowel(s[i+1])
		switch {
		case c == 'u' && i > 0 && i+1 < len(s) && s[i+1] == 'a' && !prevVowel:
			emit('v') // Luam, Luwam; Rebuar, Rebwar
		case isVowel(c):
		case c == 'j' && i > 0 && !(prevVowel && nextVowel):
			// a j beside a consonant is a y: Gentjan, Gentian; Kejsi, Keisi
		case c == 'c' && (i+1 < len(s) && (s[i+1] == 'e' || s[i+1] == 'i' || s[i+1] == 'y')):
			emit('s') // a soft c: Reece, Reese; Tyrece, Tyrese
		case c == 'h' && prevVowel && (nextVowel || i+1 == len(s)):
			// a silent h between vowels or at the end: Mohammed, Muhammad;
			// Hamzah, Hamza
		case c == 'w' && prevVowel && i+1 == len(s):
			// a final w after a vowel: Peshraw, Peshrau
		case c == 'w' || c == 'v':
			emit('v')
		case c == 'q' || c == 'c' || c == 'k':
			emit('k')
		case c == 'j' || c == 'g':
			emit('g')
		case c == 'x':
			emit('k')
			emit('s')
		case c == 'z':
			emit('z')
		default:
			emit(c)
		}
	}
	if n := len(out); n > 1 { // a final consonant is often devoiced: Sidrid, Sidrit; Wardag, Wardak
		switch out[n-1] {
		case 'd':
			out[n-1] = 't'
		case 'g':
			out[n-1] = 'k'
		case 'b':
			out[n-1] = 'p'
		}
		if out[n-2] == out[n-1] {
			out = out[:n-1]
		}
	}
	return string(out)
}

// arabicFold maps letter variants that records write either way.
var arabicFold = strings.NewReplacer(
	"أ", "ا", "إ", "ا", "آ", "ا", "ٱ", "ا",
	"ة", "ه", "ى", "ي", "ی", "ي", "ک", "ك", "ـ", "",
)

// foldOriginal returns a name in its own script as its words, folded and
// sorted, joined by one space; "" when there is none. The order of words is
// dropped, as for Latin names.
func foldOriginal(s string) string {
	if s == "" {
		return ""
	}
	var words []string
	for _, w := range strings.FieldsFunc(norm.NFC.String(s), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r)
	}) {
		var b strings.Builder
		for _, r := range norm.NFD.String(w) {
			if unicode.Is(unicode.Mn, r) {
				continue
			}
			b.WriteRune(unicode.ToLower(r))
		}
		if len(words) < 8 {
			words = append(words, arabicFold.Replace(norm.NFC.String(b.String())))
		}
	}
	return strings.Join(sortedUnique(words), " ")
}

package filter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// This file is a small lexer that runs before github.com/scim2/filter-parser/v2. It enforces the
// size limits before the recursive-descent parser sees the text (so "((((…" cannot cost stack or
// time), gives clear messages for unterminated strings and unbalanced brackets, and widens the
// parser's grammar where it is narrower than RFC 7644:
//   - The parser accepts inside brackets only `attrExp`, `attrExp and|or attrExp` and
//     `not (…)`; RFC 7644 allows any filter there (`emails[type eq "work" and (value co "a" or
//     value co "b")]`). extractValueFilters lets each bracketed filter be parsed on its own.
//   - The parser accepts \u escapes with upper-case hex digits only; JSON allows either case.
//   - The parser does not decode escapes in strings at all; decodeString does.

type tokenKind int

const (
	tokenWord tokenKind = iota
	tokenString
	tokenSpace
	tokenOpen         // (
	tokenClose        // )
	tokenOpenBracket  // [
	tokenCloseBracket // ]
)

type token struct {
	kind tokenKind
	text string
}

// source is a filter or path split into tokens, which joined give text.
type source struct {
	// original is the text as the client sent it, for error messages.
	original string
	// text is the text to parse.
	text   string
	tokens []token
}

// scan checks s against the size limits and the lexical rules and splits it into tokens. Its
// errors are 400s of the given scimType.
func scan(s string, scimType string) (*source, error) {
	if len(s) > MaxLength {
		return nil, scimerror.BadRequest(scimType, "%s is %d bytes long; at most %d are accepted", kindOf(scimType), len(s), MaxLength)
	}
	trimmed := strings.Trim(s, " ")
	if trimmed == "" {
		return nil, scimerror.BadRequest(scimType, "%s is empty", kindOf(scimType))
	}
	tokens, err := tokenize(trimmed, scimType)
	if err != nil {
		return nil, err
	}
	if err := checkLimits(tokens, scimType); err != nil {
		return nil, err
	}
	return &source{original: s, text: join(tokens), tokens: tokens}, nil
}

func kindOf(scimType string) string {
	if scimType == scimerror.InvalidPath {
		return "path"
	}
	return "filter"
}

func tokenize(s string, scimType string) ([]token, error) {
	var tokens []token
	for i := 0; i < len(s); {
		n, kind, closed := tokenAt(s[i:])
		if !closed {
			return nil, scimerror.BadRequest(scimType, "%s %q has a string starting at byte %d that is never closed with \"", kindOf(scimType), s, i+1)
		}
		text := s[i : i+n]
		if kind == tokenString {
			text = upperHexEscapes(text)
		}
		tokens = append(tokens, token{kind: kind, text: text})
		i += n
	}
	return tokens, nil
}

// tokenAt returns the length and kind of the token s starts with, and false for a string that is
// never closed.
func tokenAt(s string) (int, tokenKind, bool) {
	switch s[0] {
	case '(':
		return 1, tokenOpen, true
	case ')':
		return 1, tokenClose, true
	case '[':
		return 1, tokenOpenBracket, true
	case ']':
		return 1, tokenCloseBracket, true
	case ' ':
		return len(s) - len(strings.TrimLeft(s, " ")), tokenSpace, true
	case '"':
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1, tokenString, true
			}
		}
		return len(s), tokenString, false
	}
	if end := strings.IndexAny(s, " ()[]\""); end >= 0 {
		return end, tokenWord, true
	}
	return len(s), tokenWord, true
}

// upperHexEscapes rewrites the \u escapes of a quoted string with upper-case hex digits, the only
// form the parser takes.
func upperHexEscapes(quoted string) string {
	if !strings.Contains(quoted, `\u`) {
		return quoted
	}
	b := []byte(quoted)
	for i := 0; i < len(b)-1; i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if b[i] == 'u' {
			for j := i + 1; j < len(b) && j <= i+4; j++ {
				if 'a' <= b[j] && b[j] <= 'f' {
					b[j] -= 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// checkLimits bounds the nesting depth and the number of logical operators, and checks that
// parentheses and brackets pair up.
func checkLimits(tokens []token, scimType string) error {
	var open []tokenKind
	operators := 0
	for _, t := range tokens {
		switch t.kind {
		case tokenOpen, tokenOpenBracket:
			open = append(open, t.kind)
			if len(open) > MaxExpressions {
				return scimerror.BadRequest(scimType, "%s nests more than %d levels deep", kindOf(scimType), MaxExpressions)
			}
		case tokenClose, tokenCloseBracket:
			if len(open) == 0 || open[len(open)-1] != opener[t.kind] {
				return scimerror.BadRequest(scimType, "%s has an unmatched %q", kindOf(scimType), t.text)
			}
			open = open[:len(open)-1]
		case tokenWord:
			if strings.EqualFold(t.text, "and") || strings.EqualFold(t.text, "or") {
				if operators++; operators >= MaxExpressions {
					return scimerror.BadRequest(scimType, "%s combines more than %d expressions", kindOf(scimType), MaxExpressions)
				}
			}
		}
	}
	if len(open) > 0 {
		return scimerror.BadRequest(scimType, "%s is missing a closing %q", kindOf(scimType), closer[open[len(open)-1]])
	}
	return nil
}

var (
	opener = map[tokenKind]tokenKind{tokenClose: tokenOpen, tokenCloseBracket: tokenOpenBracket}
	closer = map[tokenKind]string{tokenOpen: ")", tokenOpenBracket: "]"}
)

func join(tokens []token) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString(t.text)
	}
	return b.String()
}

// placeholderAttr names the comparison that stands in for an extracted value filter: `[vf eq 3]`
// stands for the fourth one.
const placeholderAttr = "vf"

// extractValueFilters returns the text with the content of every bracket pair replaced by a
// placeholder comparison, and the bracketed texts. It returns no texts when there are no brackets.
func (s *source) extractValueFilters(scimType string) (string, []string, error) {
	var outer strings.Builder
	var inner []string
	for i := 0; i < len(s.tokens); i++ {
		t := s.tokens[i]
		outer.WriteString(t.text)
		if t.kind != tokenOpenBracket {
			continue
		}
		end := i + 1
		for end < len(s.tokens) && s.tokens[end].kind != tokenCloseBracket {
			if s.tokens[end].kind == tokenOpenBracket {
				return "", nil, scimerror.BadRequest(scimType, "%q: a value filter cannot contain another value filter", s.original)
			}
			end++
		}
		inner = append(inner, strings.Trim(join(s.tokens[i+1:end]), " "))
		fmt.Fprintf(&outer, "%s eq %d", placeholderAttr, len(inner)-1)
		i = end - 1 // the closing bracket is written next
	}
	return outer.String(), inner, nil
}

var compareOperators = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "lt": true, "ge": true, "le": true}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// quoteBareValues returns the source with every bare word that follows `attrPath compareOp` quoted
// as a string (Options.UnquotedStrings), and whether there was any.
func (s *source) quoteBareValues() (*source, bool) {
	tokens := slices.Clone(s.tokens)
	changed := false
	var words []int // indexes of the tokens before, spaces left out
	for i, t := range tokens {
		if t.kind == tokenSpace {
			continue
		}
		if n := len(words); n >= 2 && t.kind == tokenWord && isBare(t.text) &&
			tokens[words[n-2]].kind == tokenWord && isCompareOperator(tokens[words[n-1]]) {
			tokens[i] = token{kind: tokenString, text: quote(t.text)}
			changed = true
		}
		words = append(words, i)
	}
	if !changed {
		return s, false
	}
	return &source{original: s.original, text: join(tokens), tokens: tokens}, true
}

func isCompareOperator(t token) bool {
	return t.kind == tokenWord && compareOperators[strings.ToLower(t.text)]
}

func isBare(word string) bool {
	switch strings.ToLower(word) {
	case "true", "false", "null":
		return false
	}
	return !jsonNumber.MatchString(word)
}

// quote quotes a bare word as a filter string; a word holds no space, quote or bracket.
func quote(word string) string {
	return `"` + strings.ReplaceAll(word, `\`, `\\`) + `"`
}

// decodeString decodes the escapes of a string the parser returned without its quotes.
func decodeString(raw string) (string, error) {
	if !strings.Contains(raw, `\`) {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
		return "", fmt.Errorf("string %q: %w", raw, err)
	}
	return s, nil
}

package jenkinsemu

import (
	"fmt"
	"strings"
)

// labelExpr is a parsed Jenkins label expression. Precedence, loosest
// first: <->, ->, ||, &&, ! (all binary operators left-associative), as in
// Jenkins' LabelExpression grammar.
type labelExpr struct {
	op          labelOp
	atom        string
	left, right *labelExpr
}

type labelOp int

const (
	opAtom labelOp = iota
	opNot
	opAnd
	opOr
	opImplies
	opIff
	opParen
)

var opText = map[labelOp]string{opAnd: "&&", opOr: "||", opImplies: "->", opIff: "<->"}

// parseLabelExpr parses an expression; "" is the empty expression (nil).
func parseLabelExpr(s string) (*labelExpr, error) {
	lx := &labelLexer{s: s}
	if err := lx.tokenize(); err != nil {
		return nil, err
	}
	if len(lx.toks) == 0 {
		return nil, nil
	}
	p := &labelParser{toks: lx.toks}
	e, err := p.iff()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in label expression %q", p.toks[p.i].text, s)
	}
	return e, nil
}

type labelTok struct {
	kind string // "atom", "&&", "||", "!", "->", "<->", "(", ")"
	text string
}

type labelLexer struct {
	s    string
	i    int
	toks []labelTok
}

func (lx *labelLexer) tokenize() error {
	s := lx.s
	for lx.i < len(s) {
		c := s[lx.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			lx.i++
		case strings.HasPrefix(s[lx.i:], "&&"):
			lx.toks = append(lx.toks, labelTok{"&&", "&&"})
			lx.i += 2
		case strings.HasPrefix(s[lx.i:], "||"):
			lx.toks = append(lx.toks, labelTok{"||", "||"})
			lx.i += 2
		case strings.HasPrefix(s[lx.i:], "<->"):
			lx.toks = append(lx.toks, labelTok{"<->", "<->"})
			lx.i += 3
		case strings.HasPrefix(s[lx.i:], "->"):
			lx.toks = append(lx.toks, labelTok{"->", "->"})
			lx.i += 2
		case c == '!' || c == '(' || c == ')':
			lx.toks = append(lx.toks, labelTok{string(c), string(c)})
			lx.i++
		case c == '"':
			var b strings.Builder
			lx.i++
			for {
				if lx.i >= len(s) {
					return fmt.Errorf("unterminated quote in label expression %q", s)
				}
				if s[lx.i] == '\\' && lx.i+1 < len(s) {
					b.WriteByte(s[lx.i+1])
					lx.i += 2
					continue
				}
				if s[lx.i] == '"' {
					lx.i++
					break
				}
				b.WriteByte(s[lx.i])
				lx.i++
			}
			lx.toks = append(lx.toks, labelTok{"atom", b.String()})
		default:
			start := lx.i
			for lx.i < len(s) && atomChar(s, lx.i) {
				lx.i++
			}
			if lx.i == start {
				return fmt.Errorf("unexpected %q in label expression %q", s[lx.i:lx.i+1], s)
			}
			lx.toks = append(lx.toks, labelTok{"atom", s[start:lx.i]})
		}
	}
	return nil
}

// atomChar: anything but white space, operators, parentheses and quotes;
// '-' is part of an atom unless it starts "->" ("mesos-1a2b" is an atom).
func atomChar(s string, i int) bool {
	switch s[i] {
	case ' ', '\t', '\n', '\r', '&', '|', '!', '(', ')', '"':
		return false
	case '-':
		return !(i+1 < len(s) && s[i+1] == '>')
	case '<':
		return !strings.HasPrefix(s[i:], "<->")
	}
	return true
}

type labelParser struct {
	toks []labelTok
	i    int
}

func (p *labelParser) peek(kind string) bool { return p.i < len(p.toks) && p.toks[p.i].kind == kind }

func (p *labelParser) binary(kind string, op labelOp, next func() (*labelExpr, error)) (*labelExpr, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for p.peek(kind) {
		p.i++
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = &labelExpr{op: op, left: l, right: r}
	}
	return l, nil
}

func (p *labelParser) iff() (*labelExpr, error) { return p.binary("<->", opIff, p.implies) }
func (p *labelParser) implies() (*labelExpr, error) {
	return p.binary("->", opImplies, p.or)
}
func (p *labelParser) or() (*labelExpr, error)  { return p.binary("||", opOr, p.and) }
func (p *labelParser) and() (*labelExpr, error) { return p.binary("&&", opAnd, p.not) }

func (p *labelParser) not() (*labelExpr, error) {
	if p.peek("!") {
		p.i++
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return &labelExpr{op: opNot, left: e}, nil
	}
	return p.primary()
}

func (p *labelParser) primary() (*labelExpr, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("label expression ends where a label was expected")
	}
	t := p.toks[p.i]
	switch t.kind {
	case "atom":
		p.i++
		return &labelExpr{op: opAtom, atom: t.text}, nil
	case "(":
		p.i++
		e, err := p.iff()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing ')' in label expression")
		}
		p.i++
		return &labelExpr{op: opParen, left: e}, nil
	}
	return nil, fmt.Errorf("unexpected %q where a label was expected", t.text)
}

// matches evaluates the expression against a node's labels.
func (e *labelExpr) matches(has func(string) bool) bool {
	if e == nil {
		return true
	}
	switch e.op {
	case opAtom:
		return has(e.atom)
	case opNot:
		return !e.left.matches(has)
	case opParen:
		return e.left.matches(has)
	case opAnd:
		return e.left.matches(has) && e.right.matches(has)
	case opOr:
		return e.left.matches(has) || e.right.matches(has)
	case opImplies:
		return !e.left.matches(has) || e.right.matches(has)
	case opIff:
		return e.left.matches(has) == e.right.matches(has)
	}
	return false
}

// String is the canonical form Jenkins prints in messages: no spaces
// around operators, parentheses as written, unsafe atoms quoted.
func (e *labelExpr) String() string {
	if e == nil {
		return ""
	}
	switch e.op {
	case opAtom:
		return escapeAtom(e.atom)
	case opNot:
		return "!" + e.left.String()
	case opParen:
		return "(" + e.left.String() + ")"
	}
	return e.left.String() + opText[e.op] + e.right.String()
}

// escapeAtom quotes an atom that would not read back as one atom.
func escapeAtom(a string) string {
	safe := a != ""
	for i := 0; i < len(a) && safe; i++ {
		safe = atomChar(a, i)
	}
	if safe {
		return a
	}
	return `"` + strings.ReplaceAll(strings.ReplaceAll(a, `\`, `\\`), `"`, `\"`) + `"`
}

// isAtom tells whether the expression is a single label.
func (e *labelExpr) isAtom() bool { return e != nil && e.op == opAtom }

// parseLabelString splits a node's labelString into atoms (white space
// separated, quotes allowed).
func parseLabelString(s string) []string {
	var out []string
	lx := &labelLexer{s: s}
	if lx.tokenize() != nil {
		return strings.Fields(s)
	}
	for _, t := range lx.toks {
		out = append(out, t.text)
	}
	return out
}

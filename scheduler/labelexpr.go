package scheduler

import (
	"fmt"
	"strings"
)

// labelExpr is a Jenkins label expression (LabelExpressionParser.g4):
//
//	expr  := impl ('<->' impl)*
//	impl  := or ('->' or)?
//	or    := and ('||' and)*
//	and   := unary ('&&' unary)*
//	unary := '!' prim | prim
//	prim  := '(' expr ')' | ATOM | "quoted atom"
//
// An ATOM is a run of characters other than & | ! < > ( ) blanks and
// quotes, where '-' counts unless it starts "->".
type labelExpr struct {
	op          byte // 'a' atom, '!' not, '&' and, '|' or, '>' implies, '=' iff
	atom        string
	left, right *labelExpr
}

func (e *labelExpr) matches(has func(string) bool) bool {
	switch e.op {
	case 'a':
		return has(e.atom)
	case '!':
		return !e.left.matches(has)
	case '&':
		return e.left.matches(has) && e.right.matches(has)
	case '|':
		return e.left.matches(has) || e.right.matches(has)
	case '>':
		return !e.left.matches(has) || e.right.matches(has)
	case '=':
		return e.left.matches(has) == e.right.matches(has)
	}
	return false
}

// atoms lists the expression's atoms, in order, repeats included.
func (e *labelExpr) atoms(out []string) []string {
	if e == nil {
		return out
	}
	if e.op == 'a' {
		return append(out, e.atom)
	}
	return e.right.atoms(e.left.atoms(out))
}

type labelToken struct {
	kind string // atom, &&, ||, !, ->, <->, (, ), end
	text string
}

func lexLabel(s string) ([]labelToken, error) {
	var out []labelToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"):
			out = append(out, labelToken{kind: s[i : i+2]})
			i += 2
		case strings.HasPrefix(s[i:], "<->"):
			out = append(out, labelToken{kind: "<->"})
			i += 3
		case strings.HasPrefix(s[i:], "->"):
			out = append(out, labelToken{kind: "->"})
			i += 2
		case c == '!' || c == '(' || c == ')':
			out = append(out, labelToken{kind: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quoted label at offset %d", i)
			}
			out = append(out, labelToken{kind: "atom", text: b.String()})
			i = j + 1
		default:
			j := i
			for j < len(s) {
				d := s[j]
				if strings.IndexByte("&|!<>() \t\"'", d) >= 0 || (d == '-' && j+1 < len(s) && s[j+1] == '>') {
					break
				}
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			out = append(out, labelToken{kind: "atom", text: s[i:j]})
			i = j
		}
	}
	return append(out, labelToken{kind: "end"}), nil
}

type labelParser struct {
	toks []labelToken
	pos  int
}

func (p *labelParser) peek() string { return p.toks[p.pos].kind }
func (p *labelParser) next() labelToken {
	t := p.toks[p.pos]
	p.pos++
	return t
}

// parseLabelExpr parses a label expression; "" is no label (nil).
func parseLabelExpr(s string) (*labelExpr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lexLabel(s)
	if err != nil {
		return nil, fmt.Errorf("label expression %q: %w", s, err)
	}
	p := &labelParser{toks: toks}
	e, err := p.iff()
	if err == nil && p.peek() != "end" {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].kind+p.toks[p.pos].text)
	}
	if err != nil {
		return nil, fmt.Errorf("label expression %q: %w", s, err)
	}
	return e, nil
}

func (p *labelParser) iff() (*labelExpr, error) {
	l, err := p.implies()
	for err == nil && p.peek() == "<->" {
		p.next()
		var r *labelExpr
		if r, err = p.implies(); err == nil {
			l = &labelExpr{op: '=', left: l, right: r}
		}
	}
	return l, err
}

func (p *labelParser) implies() (*labelExpr, error) {
	l, err := p.or()
	if err == nil && p.peek() == "->" {
		p.next()
		var r *labelExpr
		if r, err = p.or(); err == nil {
			l = &labelExpr{op: '>', left: l, right: r}
		}
	}
	return l, err
}

func (p *labelParser) or() (*labelExpr, error) {
	l, err := p.and()
	for err == nil && p.peek() == "||" {
		p.next()
		var r *labelExpr
		if r, err = p.and(); err == nil {
			l = &labelExpr{op: '|', left: l, right: r}
		}
	}
	return l, err
}

func (p *labelParser) and() (*labelExpr, error) {
	l, err := p.unary()
	for err == nil && p.peek() == "&&" {
		p.next()
		var r *labelExpr
		if r, err = p.unary(); err == nil {
			l = &labelExpr{op: '&', left: l, right: r}
		}
	}
	return l, err
}

func (p *labelParser) unary() (*labelExpr, error) {
	if p.peek() == "!" {
		p.next()
		e, err := p.prim()
		if err != nil {
			return nil, err
		}
		return &labelExpr{op: '!', left: e}, nil
	}
	return p.prim()
}

func (p *labelParser) prim() (*labelExpr, error) {
	t := p.next()
	switch t.kind {
	case "atom":
		return &labelExpr{op: 'a', atom: t.text}, nil
	case "(":
		e, err := p.iff()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return e, nil
	case "end":
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q", t.kind)
}

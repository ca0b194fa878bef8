package jenkinsemu

import (
	"errors"
	"strconv"
)

// treeNode is a parsed tree= expression: which properties to write, with
// sub-trees and array ranges. NamedPathPruner semantics: visibility is
// ignored; a property is written only if named (or matched by *).
type treeNode struct {
	children map[string]*treeNode
	star     *treeNode
	lo, hi   int // array range [lo, hi); hi < 0: open
	hasRange bool
}

var errMalformedTree = errors.New("Malformed tree expression")

// parseTree parses e.g. "items[id,why,task[name,url]],jobs[name]{0,10}".
func parseTree(s string) (*treeNode, error) {
	p := &treeParser{s: s}
	root := &treeNode{}
	if err := p.list(root); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, errMalformedTree
	}
	return root, nil
}

type treeParser struct {
	s string
	i int
}

func (p *treeParser) list(parent *treeNode) error {
	for {
		start := p.i
		for p.i < len(p.s) && !isTreeDelim(p.s[p.i]) {
			p.i++
		}
		name := p.s[start:p.i]
		if name == "" {
			return errMalformedTree
		}
		child := &treeNode{}
		if p.i < len(p.s) && p.s[p.i] == '[' {
			p.i++
			if err := p.list(child); err != nil {
				return err
			}
			if p.i >= len(p.s) || p.s[p.i] != ']' {
				return errMalformedTree
			}
			p.i++
		}
		if p.i < len(p.s) && p.s[p.i] == '{' {
			if err := p.rangeSpec(child); err != nil {
				return err
			}
		}
		if name == "*" {
			parent.star = child
		} else {
			if parent.children == nil {
				parent.children = map[string]*treeNode{}
			}
			parent.children[name] = child
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return nil
	}
}

func isTreeDelim(c byte) bool { return c == '[' || c == ']' || c == ',' || c == '{' || c == '}' }

// rangeSpec reads {M,N}, {M,}, {,N} or {N}.
func (p *treeParser) rangeSpec(n *treeNode) error {
	p.i++ // {
	end := p.i
	for end < len(p.s) && p.s[end] != '}' {
		end++
	}
	if end >= len(p.s) {
		return errMalformedTree
	}
	body := p.s[p.i:end]
	p.i = end + 1
	num := func(s string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, errMalformedTree
		}
		return v, nil
	}
	n.hasRange = true
	n.hi = -1
	comma := -1
	for i := 0; i < len(body); i++ {
		if body[i] == ',' {
			comma = i
			break
		}
	}
	var err error
	if comma < 0 {
		// {N}: exactly the N-th element.
		if n.lo, err = num(body); err != nil {
			return err
		}
		n.hi = n.lo + 1
		return nil
	}
	if lo := body[:comma]; lo != "" {
		if n.lo, err = num(lo); err != nil {
			return err
		}
	}
	if hi := body[comma+1:]; hi != "" {
		if n.hi, err = num(hi); err != nil {
			return err
		}
	}
	return nil
}

// child returns the sub-tree for a property, or nil if it is not selected.
func (t *treeNode) child(name string) *treeNode {
	if c, ok := t.children[name]; ok {
		return c
	}
	return t.star
}

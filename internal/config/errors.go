// Package config reads tlsgate's YAML configuration strictly: unknown keys,
// wrong types and invalid values are all reported at once, each with the
// file, line and column where it stands and what was expected there.
package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a configuration file. Line and Column start at 1;
// zero means unknown.
type Pos struct {
	Line   int
	Column int
}

// Error is one problem in a configuration file.
type Error struct {
	File string
	Pos  Pos
	Key  string // dotted path to the value, e.g. sites[0].routes[1].upstreams
	Msg  string // what is wrong; and what is expected, after a semicolon
}

func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Pos.Line)
		if e.Pos.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Pos.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors collects every problem found in a file; it is an error itself
// when it is not empty.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem at pos for key.
func (es *Errors) Add(pos Pos, key, format string, args ...any) {
	*es = append(*es, Error{Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Err returns es as an error, or nil when there is no problem. Errors are
// sorted by position so they read top to bottom.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		if es[i].Pos.Line != es[j].Pos.Line {
			return es[i].Pos.Line < es[j].Pos.Line
		}
		return es[i].Pos.Column < es[j].Pos.Column
	})
	return es
}

// inFile sets File on every error that has none.
func (es Errors) inFile(file string) Errors {
	for i := range es {
		if es[i].File == "" {
			es[i].File = file
		}
	}
	return es
}

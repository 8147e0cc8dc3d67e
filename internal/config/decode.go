package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds how many nodes one decode may visit, so that a document
// built from nested aliases ("billion laughs") cannot exhaust memory or time.
const maxNodes = 100_000

// Decode decodes the YAML document in data into v, a pointer to a struct,
// strictly: every unknown key, duplicate key, wrong type and bad value is
// reported with its position, all at once. file names the source in errors.
func Decode(file string, data []byte, v any) (err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config.Decode: need a non-nil pointer, got %T", v)
	}
	defer func() {
		// The YAML library has panicked on hostile input in the past; a bad
		// file must never take the process down.
		if r := recover(); r != nil {
			err = Errors{{File: file, Msg: fmt.Sprintf("cannot parse the file: %v", r)}}
		}
	}()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Errors{{File: file, Pos: Pos{Line: 1}, Msg: "the file is empty; expected a YAML mapping of settings"}}
		}
		return Errors{syntaxError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Errors{{File: file, Pos: Pos{Line: extra.Line, Column: extra.Column}, Msg: "a second YAML document (---) is not allowed; put all settings in one document"}}
	}
	d := &decoder{}
	d.value(&doc, rv.Elem(), "")
	return d.errs.inFile(file).Err()
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError turns the YAML library's "yaml: line 3: ..." into a positioned Error.
func syntaxError(file string, err error) Error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return Error{File: file, Msg: "invalid YAML: " + err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	if line > 0 && strings.HasPrefix(m[2], "did not find expected") {
		// The YAML library reports these at the zero-based line of the
		// opening bracket or block; users count from one.
		line++
	}
	return Error{File: file, Pos: Pos{Line: line}, Msg: "invalid YAML: " + m[2]}
}

type decoder struct {
	errs  Errors
	nodes int
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.errs.Add(pos(n), key, format, args...)
}

var (
	fieldsType    = reflect.TypeFor[Fields]()
	durationType  = reflect.TypeFor[time.Duration]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, key, "the document expands to more than %d values (nested aliases?); simplify it", maxNodes)
		}
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			d.fail(n, key, "the file is empty; expected a YAML mapping of settings")
			return
		}
		d.value(n.Content[0], v, key)
		return
	case yaml.AliasNode:
		d.value(n.Alias, v, key)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), key)
		return
	}
	if v.Type() == durationType {
		d.duration(n, v, key)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshal) {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "expected a single value, found %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, key, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structValue(n, v, key)
	case reflect.Slice:
		d.slice(n, v, key)
	case reflect.Map:
		d.mapValue(n, v, key)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "expected a string, found %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(n, key, "expected true or false, found %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(n, key, "expected a whole number, found %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Value, 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(n, key, "expected a whole number of at least 0, found %s", kindName(n))
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) {
			d.fail(n, key, "expected a number, found %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, key, "this setting cannot be read from YAML (internal: %s)", v.Type())
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "expected a duration such as 30s, 5m, 12h or 90d, found %s", kindName(n))
		return
	}
	dur, err := ParseDuration(n.Value)
	if err != nil {
		d.fail(n, key, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

// ParseDuration parses a Go duration ("1h30m", "500ms") and also whole days
// ("90d"), which certificate lifetimes and HSTS ages are usually given in.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err == nil && n <= 106751 { // time.Duration's limit is about 292 years
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur < 0 {
		return 0, fmt.Errorf("invalid duration %q; expected a duration such as 30s, 5m, 12h or 90d", s)
	}
	return dur, nil
}

func (d *decoder) slice(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, key, "expected a list, found %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, out.Index(i), fmt.Sprintf("%s[%d]", key, i))
	}
	v.Set(out)
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "expected a mapping, found %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.fail(n, key, "this setting cannot be read from YAML (internal: %s)", v.Type())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]bool{}
	for _, kv := range mappingPairs(n) {
		k := kv[0]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, key, "a key must be a single value, found %s", kindName(k))
			continue
		}
		if seen[k.Value] {
			d.fail(k, joinKey(key, k.Value), "duplicate key; each key may appear once")
			continue
		}
		seen[k.Value] = true
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(kv[1], elem, joinKey(key, k.Value))
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
}

// mappingPairs returns the key/value pairs of a mapping with YAML merge keys
// (<<: *anchor) expanded; keys written in the mapping win over merged ones.
func mappingPairs(n *yaml.Node) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			for _, src := range mergeSources(v) {
				merged = append(merged, mappingPairs(src)...)
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	written := map[string]bool{}
	for _, kv := range own {
		written[kv[0].Value] = true
	}
	out := own
	taken := map[string]bool{}
	for _, kv := range merged {
		if !written[kv[0].Value] && !taken[kv[0].Value] {
			taken[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	for v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			for c.Kind == yaml.AliasNode {
				c = c.Alias
			}
			if c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func joinKey(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

type structInfo struct {
	fields  map[string]int // yaml name -> field index
	names   []string       // sorted, for "expected one of"
	fields0 int            // index of the Fields field, or -1
}

var structCache sync.Map // reflect.Type -> *structInfo

func infoFor(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]int{}, fields0: -1}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == fieldsType {
			si.fields0 = i
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.fields[name] = i
		si.names = append(si.names, name)
	}
	sort.Strings(si.names)
	structCache.Store(t, si)
	return si
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "expected a mapping of settings, found %s", kindName(n))
		return
	}
	si := infoFor(v.Type())
	f := Fields{At: pos(n), Path: key, keys: map[string]Pos{}}
	for _, kv := range mappingPairs(n) {
		k, val := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, key, "a key must be a single word, found %s", kindName(k))
			continue
		}
		name := k.Value
		if strings.HasPrefix(name, "x-") {
			// Extension keys hold YAML anchors for reuse; they are not settings.
			continue
		}
		if _, dup := f.keys[name]; dup {
			d.fail(k, joinKey(key, name), "duplicate key; each key may appear once")
			continue
		}
		idx, ok := si.fields[name]
		if !ok {
			d.fail(k, joinKey(key, name), "unknown key%s; expected one of %s", suggest(name, si.names), strings.Join(si.names, ", "))
			f.keys[name] = pos(val)
			continue
		}
		f.keys[name] = pos(val)
		if item := resolve(val); item.Kind == yaml.SequenceNode {
			for i, c := range item.Content {
				f.keys[fmt.Sprintf("%s[%d]", name, i)] = pos(c)
			}
		}
		d.value(val, v.Field(idx), joinKey(key, name))
	}
	if si.fields0 >= 0 {
		v.Field(si.fields0).Set(reflect.ValueOf(f))
	}
}

// suggest returns ` (did you mean "x"?)` when a known name is one or two
// edits away from the unknown one.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package config

// Fields records where a mapping and each of its keys stand in the file, so
// that validation after decoding can point at the offending line. A struct
// that has a field of type Fields (tag `yaml:"-"`) gets it filled in.
type Fields struct {
	At   Pos            // the mapping itself
	Path string         // dotted path of the mapping, e.g. sites[0]
	keys map[string]Pos // key -> position of its value
}

// Pos returns the position of key's value, or of the mapping when key was
// not written.
func (f Fields) Pos(key string) Pos {
	if p, ok := f.keys[key]; ok {
		return p
	}
	return f.At
}

// Has reports whether key was written in the file.
func (f Fields) Has(key string) bool {
	_, ok := f.keys[key]
	return ok
}

// Key returns the dotted path of key inside this mapping.
func (f Fields) Key(key string) string {
	if f.Path == "" {
		return key
	}
	return f.Path + "." + key
}

// Add records a problem with key of this mapping.
func (f Fields) Add(es *Errors, key, format string, args ...any) {
	es.Add(f.Pos(key), f.Key(key), format, args...)
}

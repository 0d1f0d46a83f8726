package qq

import (
	"bytes"
	"encoding/json"
)

// Object is a JSON object whose keys go out in the order of its fields.
// The reference library sends its dicts in insertion order (comm as its
// CommonParams declares them, each req_N as module, method, param, and
// params in the order each API builds them); Go would sort a map's keys,
// which sets the client apart on the wire. A field whose Value is nil is
// sent as null.
type Object []Field

// Field is one key and value of an Object.
type Field struct {
	Key   string
	Value any
}

// MarshalJSON writes the fields in order, compact, with no HTML escaping
// (the reference sends <, > and & as they are). A nil Object is {}.
func (o Object) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			out = append(out, ',')
		}
		k, err := encodeCompact(f.Key)
		if err != nil {
			return nil, err
		}
		v, err := encodeCompact(f.Value)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

// Get returns the value of key and whether the object has it.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key where it stands, or appends the key (as
// a Python dict update does).
func (o *Object) Set(key string, v any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, Field{key, v})
}

// Delete removes key.
func (o *Object) Delete(key string) {
	for i := range *o {
		if (*o)[i].Key == key {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}

// encodeCompact encodes v as compact JSON without HTML escaping and
// without the trailing newline: the exact bytes that are sent and signed.
func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

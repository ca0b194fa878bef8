package mesosemu

// stripNulls removes object members whose value is null from compact JSON.
// mesos-go's generated encoders write unset repeated and message fields as
// null ("attributes":null); Mesos omits fields that are not set, and a
// strict client must not see a null where Mesos never sends one.
func stripNulls(in []byte) []byte {
	out := make([]byte, 0, len(in))
	i := 0
	for i < len(in) {
		ch := in[i]
		if ch != '"' {
			if ch == ',' && len(out) > 0 && out[len(out)-1] == '{' {
				i++ // the member before it was dropped
				continue
			}
			out = append(out, ch)
			i++
			continue
		}
		end := stringEnd(in, i)
		if end+5 <= len(in) && in[end] == ':' && string(in[end+1:end+5]) == "null" && (end+5 == len(in) || in[end+5] == ',' || in[end+5] == '}') {
			if len(out) > 0 && out[len(out)-1] == ',' {
				out = out[:len(out)-1]
			}
			i = end + 5
			continue
		}
		out = append(out, in[i:end]...)
		i = end
	}
	return out
}

// stringEnd returns the index just past the JSON string starting at i.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		switch b[j] {
		case '\\':
			j += 2
			continue
		case '"':
			return j + 1
		}
		j++
	}
	return len(b)
}

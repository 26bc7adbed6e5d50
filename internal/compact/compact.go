// Package compact makes objects held by the manager's informer cache take less memory without
// changing them: what it returns is equal to what it was given.
package compact

// Clip returns s, or a copy of it without the room to grow that the JSON decoder leaves: it
// grows a list by doubling, so a decoded list of three conditions holds room for four and one of
// five roles room for eight (96 bytes each of a cached user), and a list of 10,000 subjects room
// for 16,384. A list held by the cache never grows in place, so the room is never used. Equal
// elements, so nothing can tell but the heap.
func Clip[T any](s []T) []T {
	if len(s) == 0 || cap(s) == len(s) {
		return s
	}
	return append(make([]T, 0, len(s)), s...)
}

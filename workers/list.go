package workers

// list is an intrusive doubly linked list of tasks: a task is in at most one
// list (the queue or the running set) and unlinks in O(1) when cancelled.
// Guarded by the pool's mutex.
type list struct {
	head, tail *taskBase
}

func (l *list) push(t *taskBase) {
	t.prev, t.next = l.tail, nil
	if l.tail == nil {
		l.head = t
	} else {
		l.tail.next = t
	}
	l.tail = t
}

func (l *list) pop() *taskBase {
	t := l.head
	if t != nil {
		l.remove(t)
	}
	return t
}

func (l *list) remove(t *taskBase) {
	if t.prev == nil {
		l.head = t.next
	} else {
		t.prev.next = t.next
	}
	if t.next == nil {
		l.tail = t.prev
	} else {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

// each calls fn for every task in the list, oldest first.
func (l *list) each(fn func(*taskBase)) {
	for t := l.head; t != nil; t = t.next {
		fn(t)
	}
}

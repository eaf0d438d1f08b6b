package roster

// EventRecords turns a write's changes into the events it records.
func EventRecords(r *Request, ch []Change, at Clock) ([]EventRecord, error) {
	return eventRecords(r, ch, at.Now())
}

package roster

// FeedCursor is the cursor of the feed p reads with filters (as GET /v1/events takes them) at
// a position: after the event of sequence seq in the feed of one account, or after position pos
// in the feed of every account. roster export ends with such a cursor (SPEC §12), bound, like
// every cursor, to the caller it is for (a superadmin's, for an export).
func FeedCursor(p Principal, filters map[string]string, seq int64, pos FeedPosition) (string, error) {
	pl, err := planEvents(p, EventRequest{Filters: filters, Limit: 1})
	if err != nil {
		return "", err
	}
	return pl.cursorAt(seq, pos), nil
}

package benchreport

import "strconv"

func itoa(v int) string            { return strconv.Itoa(v) }
func itoa64(v int64) string        { return strconv.FormatInt(v, 10) }
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

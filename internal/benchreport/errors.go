package benchreport

import "errors"

// Errors of this package, wrapped with context; test with errors.Is.
var (
	// ErrMalformed is a line that is a benchmark result but not a whole,
	// well-formed one.
	ErrMalformed = errors.New("malformed benchmark result")
	// ErrSuite is a suite definition that cannot run or be read.
	ErrSuite = errors.New("invalid suite")
	// ErrUnknownSuite is a suite name --only does not know.
	ErrUnknownSuite = errors.New("unknown suite")
	// ErrNoGoTool means the go command is not on PATH: the benchmarks are
	// in _test.go files and only `go test` can build them.
	ErrNoGoTool = errors.New("the go tool is not on PATH")
	// ErrNoModule means the nrmnet module's source tree was not found.
	ErrNoModule = errors.New("the nrmnet source tree (go.mod of module nrmnet) was not found")
	// ErrSuiteFailed is a suite whose go test failed or printed no result.
	ErrSuiteFailed = errors.New("benchmark suite failed")
)

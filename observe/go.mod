module github.com/velalang/runtime/observe

go 1.26.0

replace (
	github.com/velalang/runtime => ../
	github.com/velalang/runtime/remote => ../remote
)

module github.com/velalang/runtime/jsloop

go 1.26.0

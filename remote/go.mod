module github.com/velalang/runtime/remote

go 1.26.0

module github.com/velalang/runtime

go 1.26

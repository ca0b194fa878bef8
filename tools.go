//go:build tools

// Package jenkinsmesos pins dependencies that the project has chosen but
// that no package imports yet, so `go mod tidy` keeps their exact versions:
// gojenkins v1.2.0 (the Jenkins client the framework and its emulator tests
// use) and golang/protobuf (the persisted-state schema).
package jenkinsmesos

import (
	_ "github.com/bndr/gojenkins"
	_ "github.com/golang/protobuf/proto"
)

//go:build tools

// Package jenkinsmesos pins dependencies that the project has chosen but
// that no product package imports yet, so `go mod tidy` keeps their exact
// versions: gojenkins v1.2.0 (the Jenkins client; today only the Jenkins
// emulator's tests import it, and test imports alone do not keep a module
// required for the product) and golang/protobuf (the persisted-state
// schema of proto/, not generated yet). Drop each line once a product
// package imports the module.
package jenkinsmesos

import (
	_ "github.com/bndr/gojenkins"
	_ "github.com/golang/protobuf/proto"
)

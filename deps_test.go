package jenkinsmesos_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/jenkins-mesos/jenkins-mesos"

// goList returns the packages matched by pattern with their imports and
// transitive dependencies.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, pattern string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// pureRoots are the packages of DESIGN §2 that must do no I/O.
var pureRoots = []string{"offers", "scheduler", "executor", "proto"}

// forbiddenInPure are the standard packages whose presence among a pure
// package's direct imports means I/O, processes or ambient state.
var forbiddenInPure = []string{"net", "net/http", "os", "os/exec", "os/signal", "syscall", "io/ioutil", "math/rand", "math/rand/v2", "crypto/rand", "log"}

func TestPurePackagesDoNoIO(t *testing.T) {
	for _, root := range pureRoots {
		for _, p := range goList(t, "./"+root) {
			for _, imp := range p.Imports {
				for _, bad := range forbiddenInPure {
					if imp == bad {
						t.Errorf("%s imports %s: pure packages must not do I/O (DESIGN §2)", p.ImportPath, imp)
					}
				}
				if strings.HasPrefix(imp, module+"/") && !isPure(imp) {
					t.Errorf("%s imports %s: a pure package may import only other pure packages", p.ImportPath, imp)
				}
			}
		}
	}
}

func isPure(path string) bool {
	rel := strings.TrimPrefix(path, module+"/")
	for _, root := range pureRoots {
		if rel == root || (strings.HasPrefix(rel, root+"/") && !strings.HasPrefix(rel, "scheduler/")) {
			return true
		}
	}
	return false
}

func TestJenkinsAdapterDoesNotImportScheduler(t *testing.T) {
	for _, p := range goList(t, "./jenkins/...") {
		for _, d := range p.Deps {
			if d == module+"/scheduler" || strings.HasPrefix(d, module+"/scheduler/") {
				t.Errorf("%s depends on %s: jenkins must not import scheduler (DESIGN §2)", p.ImportPath, d)
			}
		}
	}
}

// Emulators are independent implementations of Mesos and Jenkins: if they
// shared our code they would share our bugs.
func TestEmulatorsDoNotImportTheProduct(t *testing.T) {
	for _, pattern := range []string{"./integration/mesosemu/...", "./integration/jenkinsemu/...", "./cmd/mesos-emulator/...", "./cmd/jenkins-emulator/..."} {
		pkgs := goListIfExists(t, pattern)
		for _, p := range pkgs {
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, module+"/") {
					continue
				}
				rel := strings.TrimPrefix(d, module+"/")
				if !strings.HasPrefix(rel, "integration/mesosemu") && !strings.HasPrefix(rel, "integration/jenkinsemu") && rel != "integration/emutime" {
					t.Errorf("%s depends on %s: emulators must not import the product", p.ImportPath, d)
				}
			}
		}
	}
}

func goListIfExists(t *testing.T, pattern string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps,Error", pattern).Output()
	if err != nil {
		return nil
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			listedPackage
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error == nil {
			pkgs = append(pkgs, p.listedPackage)
		}
	}
	return pkgs
}

// The rule must be able to fail: a synthetic import list with net/http is
// caught by the same predicate the real check uses.
func TestPureRuleCatchesIO(t *testing.T) {
	if !isPure(module + "/offers") {
		t.Fatalf("offers must count as pure")
	}
	if isPure(module + "/scheduler/driver") {
		t.Fatalf("scheduler/driver must not count as pure")
	}
	if isPure(module + "/jenkins") {
		t.Fatalf("jenkins must not count as pure")
	}
}

// Imports alone cannot show a clock read or a goroutine: walk the syntax of
// every non-test file of the pure packages.
func TestPurePackagesHaveNoClockOrGoroutines(t *testing.T) {
	banned := map[string]bool{"Now": true, "Sleep": true, "After": true, "AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true, "Since": true, "Until": true}
	for _, root := range pureRoots {
		if root == "scheduler" {
			checkPureSyntax(t, "scheduler", banned, false)
			continue
		}
		checkPureSyntax(t, root, banned, true)
	}
}

func checkPureSyntax(t *testing.T, dir string, banned map[string]bool, recursive bool) {
	t.Helper()
	fset := token.NewFileSet()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, perr := parser.ParseFile(fset, path, nil, 0)
		if perr != nil {
			t.Errorf("parsing %s: %v", path, perr)
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: goroutine in a pure package", fset.Position(x.Pos()))
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "time" && banned[x.Sel.Name] {
					t.Errorf("%s: time.%s in a pure package: time is an input", fset.Position(x.Pos()), x.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
}

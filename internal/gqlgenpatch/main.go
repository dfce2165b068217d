// Command gqlgenpatch rewrites gqlgen's generated executor so that lists
// whose elements resolve no field concurrently are marshalled in a loop.
//
// gqlgen v0.17.98 marshals every list of objects, enums and scalars with
// graphql.MarshalSliceConcurrently, which starts one goroutine per element
// even when no element has a resolver that could run in parallel. A page
// of 50 meetings with their participants, tasks and recordings started
// hundreds of such goroutines, and their start-up and stack growth cost a
// large share of the request's CPU. The rewrite replaces the call with
// graph.marshalSliceSequentially where no function reachable from the
// element's marshaller calls FieldSet.ResolveConcurrently. Lists whose
// elements do (meetings, for example) keep their goroutines, so that their
// field resolvers still run in parallel and share loader batches.
//
// Usage: go run ./internal/gqlgenpatch graph/generated.go
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
)

const (
	concurrentList = "MarshalSliceConcurrently"
	sequentialList = "marshalSliceSequentially"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gqlgenpatch GENERATED_GO_FILE")
		os.Exit(2)
	}

	if err := patch(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgenpatch:", err)
		os.Exit(1)
	}
}

func patch(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}

	out, count, err := rewrite(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}

	fmt.Printf("gqlgenpatch: %d lists in %s marshal sequentially\n", count, path)

	return nil
}

// rewrite returns src with the qualifying MarshalSliceConcurrently calls
// replaced, and how many it replaced.
func rewrite(src []byte) ([]byte, int, error) {
	fset := token.NewFileSet()

	file, err := parser.ParseFile(fset, "", src, 0)
	if err != nil {
		return nil, 0, err
	}

	graph := callGraph(file)

	var edits []token.Pos

	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || !isSelector(call.Fun, "graphql", concurrentList) || len(call.Args) == 0 {
			return true
		}

		element, ok := call.Args[len(call.Args)-1].(*ast.FuncLit)
		if !ok {
			return true
		}

		for _, callee := range ecCalls(element.Body) {
			if graph.reachesConcurrency(callee) {
				return true
			}
		}

		edits = append(edits, call.Fun.Pos())

		return true
	})

	sort.Slice(edits, func(i, j int) bool { return edits[i] > edits[j] })

	out := bytes.Clone(src)
	old := []byte("graphql." + concurrentList)

	for _, pos := range edits {
		offset := fset.Position(pos).Offset
		if !bytes.HasPrefix(out[offset:], old) {
			return nil, 0, fmt.Errorf("unexpected call text at offset %d", offset)
		}

		out = append(out[:offset], append([]byte(sequentialList), out[offset+len(old):]...)...)
	}

	return out, len(edits), nil
}

// calls maps each executionContext method to the methods it calls.
type calls struct {
	callees map[string][]string
	// concurrent holds the methods that resolve fields concurrently or call
	// one that does, directly or indirectly.
	concurrent map[string]bool
}

func callGraph(file *ast.File) *calls {
	g := &calls{callees: map[string][]string{}, concurrent: map[string]bool{}}

	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil {
			continue
		}

		name := fn.Name.Name
		g.callees[name] = ecCalls(fn.Body)

		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ResolveConcurrently" {
					g.concurrent[name] = true
				}
			}

			return true
		})
	}

	// Spread concurrency to the callers until nothing changes. Recursive
	// types make the graph cyclic, so a depth-first walk would need care.
	for changed := true; changed; {
		changed = false

		for name, callees := range g.callees {
			if g.concurrent[name] {
				continue
			}

			for _, callee := range callees {
				if g.reachesConcurrency(callee) {
					g.concurrent[name] = true
					changed = true

					break
				}
			}
		}
	}

	return g
}

// synchronousRuntime lists the methods that executionContext takes from
// gqlgen's runtime and that resolve nothing concurrently while the list
// waits: error reporting, introspection lookups, and ProcessDeferredGroup,
// which queues an @defer fragment to be resolved after the response's
// first part.
var synchronousRuntime = map[string]bool{
	"Error":                true,
	"Recover":              true,
	"IntrospectType":       true,
	"IntrospectSchema":     true,
	"ProcessDeferredGroup": true,
}

// reachesConcurrency reports whether name resolves fields concurrently,
// directly or through the methods it calls. A method not defined in the
// file and not in synchronousRuntime counts as concurrent, to be safe.
func (g *calls) reachesConcurrency(name string) bool {
	if _, defined := g.callees[name]; !defined {
		return !synchronousRuntime[name]
	}

	return g.concurrent[name]
}

// ecCalls returns the names of the executionContext methods called in body.
func ecCalls(body *ast.BlockStmt) []string {
	var names []string

	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if receiver, ok := sel.X.(*ast.Ident); ok && receiver.Name == "ec" {
					names = append(names, sel.Sel.Name)
				}
			}
		}

		return true
	})

	return names
}

func isSelector(expr ast.Expr, pkg, name string) bool {
	sel, ok := expr.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}

	ident, ok := sel.X.(*ast.Ident)

	return ok && ident.Name == pkg
}

module github.com/bulwark-go/bulwark/e2e/gateway

go 1.26.0

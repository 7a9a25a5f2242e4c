# The two commands of the README: `make run` and `make test`.
# Everything builds with CGO_ENABLED=0 -tags goolm (pure Go, no libolm).

export CGO_ENABLED := 0
GOFLAGS_BUILD := -tags goolm
FUZZTIME ?= 10s

.PHONY: run test build vet unit fuzz clean

## run: bring up Synapse + LiveKit on loopback and run the coordinator in the foreground
run:
	@scripts/run-dev

## test: start the test environment, vet, run every test with -race, fuzz briefly, stop the environment
test:
	@scripts/test-all

## build: build bin/coordinator
build:
	go build $(GOFLAGS_BUILD) -trimpath -o bin/coordinator ./cmd/coordinator

vet:
	go vet $(GOFLAGS_BUILD) ./...

## unit: only the tests that need no servers (integration tests skip with -short outside CI)
unit:
	CGO_ENABLED=1 go test $(GOFLAGS_BUILD) -short -race ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz

clean:
	rm -rf bin

# Front door: `make run`, `make test`, `make build`, `make bench`, `make deb`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CONFIG ?= configs/default.ini
PACKAGES := g++ cmake make pkg-config libcaf-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev \
            prometheus-cpp-dev libspdlog-dev dpkg-dev \
            catch2 libjs-chart.js libsqlite3-dev libssl-dev openssl libgoogle-perftools-dev clang libclang-rt-14-dev wrk gnuplot-nox python3 python3-pip python3-setuptools nginx \
            chromium chromium-driver python3-selenium tzdata
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The Python peer of bench/leases.py and bench/python_stack.py (bench/pystack:
# FastAPI under uvicorn on uvloop + httptools, Celery + Redis).
BENCH_PACKAGES := python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-celery \
                  python3-redis redis-server

.PHONY: deps build run test bench bench-deps deb clean

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/actorq --config-file=$(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The Debian package (CPack; Depends from dpkg-shlibdeps, in dpkg-dev):
# $(BUILD_DIR)/actorq_VERSION_ARCH.deb, installed to /usr and /etc.
deb: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
	cmake --build $(BUILD_DIR) -j $(JOBS) --target actorq actorq-cli
	cd $(BUILD_DIR) && cpack -G DEB
	@ls $(BUILD_DIR)/actorq_*.deb

bench-deps:
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

bench: build bench-deps
	bench/run.sh $(BUILD_DIR)
	python3 bench/python_stack.py $(BUILD_DIR)
	python3 bench/cluster.py $(BUILD_DIR)
	python3 bench/runners.py $(BUILD_DIR)
	python3 bench/hostile.py $(BUILD_DIR)
	python3 bench/leases.py $(BUILD_DIR)
	python3 bench/metrics.py $(BUILD_DIR)
	python3 bench/delayed.py $(BUILD_DIR)
	python3 bench/scheduling.py $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)

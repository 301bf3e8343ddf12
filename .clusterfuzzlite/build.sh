#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: the engine's flags come in $CC, $CFLAGS and
# $LIB_FUZZING_ENGINE; binaries, dictionaries, options and seed corpora go to $OUT.
cd "$SRC/framespec"
for t in decode_fuzz roundtrip_fuzz conn_fuzz; do
  $CC $CFLAGS -std=c11 -Itarget -Ifuzz fuzz/$t.c target/frame.c target/conn.c \
      $LIB_FUZZING_ENGINE -o "$OUT/$t"
  cp fuzz/$t.dict "$OUT/$t.dict"
  { cat fuzz/$t.options; echo "dict = $t.dict"; } > "$OUT/$t.options"
  zip -q -j "$OUT/${t}_seed_corpus.zip" corpus/$t/* corpus/regressions/$t/* 2>/dev/null || \
    zip -q -j "$OUT/${t}_seed_corpus.zip" corpus/$t/*
done

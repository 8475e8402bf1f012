#!/usr/bin/env bash
# End-to-end gitexp demo: copy this example into a fresh git repository, run a
# four-run study (two boosted-tree depths, a random forest, a logistic
# regression) and a four-trial Optuna sweep, then rank and compare the runs.
#
# The copy keeps the demo from writing runs into whatever repository this
# example lives in. Environment:
#   GITEXP_DEMO_DIR  where to build the demo repository (default: a new mktemp
#                    dir); must be empty or not exist yet.
#   GITEXP           the gitexp command line (default: gitexp), e.g.
#                    GITEXP="python -m gitexp".
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
read -r -a gitexp_cmd <<<"${GITEXP:-gitexp}"

if ! command -v "${gitexp_cmd[0]}" >/dev/null 2>&1; then
    echo "demo.sh: '${gitexp_cmd[0]}' not found; install gitexp first (pip install -e .)" >&2
    exit 1
fi

if [[ -n "${GITEXP_DEMO_DIR:-}" ]]; then
    demo_dir="$GITEXP_DEMO_DIR"
    mkdir -p "$demo_dir"
    if [[ -n "$(ls -A "$demo_dir")" ]]; then
        echo "demo.sh: GITEXP_DEMO_DIR=$demo_dir is not empty; refusing to overwrite it" >&2
        exit 1
    fi
else
    demo_dir="$(mktemp -d "${TMPDIR:-/tmp}/gitexp-demo.XXXXXX")"
fi
demo_dir="$(cd "$demo_dir" && pwd)"

# Copy the example, minus anything a local run of train.py may have left behind.
cp -R "$src/." "$demo_dir/"
rm -rf "$demo_dir/model.pkl" "$demo_dir/metrics.json" "$demo_dir/__pycache__"
cd "$demo_dir"

git -c init.defaultBranch=main init -q
# Commits need an identity; only set a repo-local one if none is configured.
git config user.name >/dev/null || git config user.name "gitexp demo"
git config user.email >/dev/null || git config user.email "gitexp-demo@example.invalid"
git add .
git commit -q -m "Cosmic-ray composition example: initial import"

run() {
    echo
    echo "\$ gitexp $*"
    "${gitexp_cmd[@]}" "$@"
}

# Models (`outputs:` in gitexp.yaml) go to DVC; a folder beside the repo
# stands in for a shared DVC remote.
run init --dvc-remote "$demo_dir.dvc-remote" --no-hooks
git add .dvc .dvcignore 2>/dev/null || git add .dvc
git commit -q -m "Set up DVC for model files"

run run -n baseline
run run -n deeper -p model.max_depth=8
run run -n forest -p model.type=rf -p model.n_estimators=200
run run -n logreg -p model.type=logreg

# A small Optuna search: every trial is an experiment (depth-search/trial-NNNN),
# two at a time; `gitexp show` folds the sweep into one row (its best trial).
run sweep -n depth-search -p model.max_depth='int(2,6)' \
    -p model.learning_rate='float(0.03,0.3,log)' -p model.n_estimators=100 \
    --objective val.acc:max --trials 4 -j 2 --seed 1
run sweep show depth-search

run show --sort-by val.acc
run compare baseline deeper forest
run artifacts list baseline
run reproduce logreg

# The best run becomes version v1.0.0 of the model `cosmic-rays` (an annotated
# git tag in GTO's format on its commit) and goes to prod; `model get` brings
# its file back from DVC, checked against the md5 the tag recorded.
best="$("${gitexp_cmd[@]}" show --sort-by val.acc --desc --trials -n 1 --format json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["name"])')"
run model register cosmic-rays --from "$best" --path model.pkl --version v1.0.0
run model promote cosmic-rays v1.0.0 --stage prod
run model list
run model get cosmic-rays --stage prod -o "$demo_dir.prod-model.pkl"

echo
echo "Demo repository: $demo_dir"

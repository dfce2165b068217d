#!/usr/bin/env bash
# Downloads the GraphiQL, React and explorer plugin files that the playground
# page loads, from the npm registry, into playground/assets/.
#
# The files are the same ones that gqlgen's playground.Handler loads from a CDN
# by default. They are renamed to carry the package version, because the
# gateway serves them with an immutable Cache-Control header. When you change a
# version here, change the matching file name constant in playground.go too.
#
# The script writes only into playground/assets/. npm's cache and the tarballs
# go to a temporary directory that is removed on exit.
set -euo pipefail

readonly GRAPHIQL_VERSION=4.1.2
readonly REACT_VERSION=18.2.0
readonly EXPLORER_VERSION=4.0.6

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
assets_dir="$script_dir/assets"

work_dir="$(mktemp -d)"
trap 'rm -rf -- "$work_dir"' EXIT

# Packs one package into $work_dir, unpacks it into $work_dir/<name>, and
# prints that directory. npm verifies the tarball against the registry's
# integrity hash.
fetch_package() {
	local spec=$1 name=$2
	local tarball
	tarball="$(npm pack "$spec" --silent --ignore-scripts \
		--cache "$work_dir/npm-cache" --pack-destination "$work_dir")"
	mkdir -p "$work_dir/$name"
	tar -xzf "$work_dir/$tarball" -C "$work_dir/$name"
	echo "$work_dir/$name/package"
}

# Copies one file from an unpacked package to the assets directory, or fails
# if the package does not contain it.
copy_asset() {
	local source=$1 target=$2
	if [[ ! -f $source ]]; then
		echo "fetch-assets.sh: missing file in npm package: ${source#"$work_dir"/}" >&2
		exit 1
	fi
	cp -- "$source" "$staging_dir/$target"
}

graphiql="$(fetch_package "graphiql@$GRAPHIQL_VERSION" graphiql)"
react="$(fetch_package "react@$REACT_VERSION" react)"
react_dom="$(fetch_package "react-dom@$REACT_VERSION" react-dom)"
explorer="$(fetch_package "@graphiql/plugin-explorer@$EXPLORER_VERSION" plugin-explorer)"

staging_dir="$work_dir/assets"
mkdir -p "$staging_dir"

copy_asset "$graphiql/graphiql.min.js" "graphiql-$GRAPHIQL_VERSION.min.js"
copy_asset "$graphiql/graphiql.min.css" "graphiql-$GRAPHIQL_VERSION.min.css"
copy_asset "$react/umd/react.production.min.js" "react-$REACT_VERSION.production.min.js"
copy_asset "$react_dom/umd/react-dom.production.min.js" "react-dom-$REACT_VERSION.production.min.js"
copy_asset "$explorer/dist/index.umd.js" "plugin-explorer-$EXPLORER_VERSION.umd.js"
# The package has no style.min.css. gqlgen's default CDN URL for it is a
# minified copy that the CDN generates from dist/style.css.
copy_asset "$explorer/dist/style.css" "plugin-explorer-$EXPLORER_VERSION.css"

# Replace the assets directory contents only after every file was found, so a
# failed run leaves the previous files in place.
mkdir -p "$assets_dir"
find "$assets_dir" -mindepth 1 -maxdepth 1 -type f -delete
cp -- "$staging_dir"/* "$assets_dir/"

ls -l "$assets_dir"

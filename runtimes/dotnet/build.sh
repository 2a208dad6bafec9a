#!/bin/sh
# Build step of the dotnet runtime (UNTESTED: no .NET SDK can be installed where this was written): compiles the
# function in $CODE_DIR (every .cs file there; the entry file, APPWRITE_ENTRYPOINT_NAME, e.g. index.cs, holds the
# class of that name with Main(Request req, Response res) returning void or Task) with the .NET adapter library
# (adapters/dotnet/Runtime.cs, namespace Runtime) by `dotnet publish` into $CODE_DIR: the apphost
# $CODE_DIR/runtime and the runtime.* files it needs, and nothing else. The image runs it with
# SHIM_ADAPTER=/usr/code/runtime.
#
# <PackageReference> lines of a .csproj in $CODE_DIR are kept; NuGet fetches them (a build without network
# needs none, or a local package cache that has them).
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, DOTNET.
set -eu
DOTNET=${DOTNET:-dotnet}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir dotnet Runtime.cs .NET
command -v "$DOTNET" >/dev/null 2>&1 && "$DOTNET" --version >/dev/null 2>&1 \
  || die "no .NET SDK: '$DOTNET' is not installed (use the official dotnet/sdk image, or https://dot.net)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .cs file whose class has Main(req, res)"
case $ENTRY in *.cs) ;; *) die "the entry file $ENTRY is not a .cs file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch dotnet
mkdir -p "$src/code"
cp -R "$CODE_DIR/." "$src/code/"
rm -rf "$src/code/bin" "$src/code/obj"
cd "$src"
tfm=net$("$DOTNET" --version | cut -d. -f1-2)
packages=$(cat code/*.csproj 2>/dev/null | grep -o '<PackageReference[^>]*/>' || true)
cat > runtime.csproj <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>$tfm</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>disable</Nullable>
    <AssemblyName>runtime</AssemblyName>
    <StartupObject>Runtime.Adapter</StartupObject>
    <InvariantGlobalization>true</InvariantGlobalization>
    <DebugType>portable</DebugType>
    <!-- Stack traces name the user's files as $CODE_DIR/<file>, not this scratch folder. -->
    <PathMap>$src/code=$CODE_DIR</PathMap>
    <NoWarn>CS7022</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="$ADAPTER_DIR/Runtime.cs" />
    $packages
  </ItemGroup>
</Project>
XML
cat > RuntimeEntry.cs <<CS
namespace Runtime;

static class EntryFile
{
    internal const string Name = "$(basename "$ENTRY" .cs)";
}
CS
"$DOTNET" publish runtime.csproj -c Release -o out --nologo \
  || die "compiling $ENTRY failed (the compiler's messages are above)"

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -R out/. "$CODE_DIR/"
echo "build: $CODE_DIR/runtime is ready"

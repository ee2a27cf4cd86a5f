#!/usr/bin/env bash
# Installs the Debian packages guichet needs, only those missing.
# Usage: scripts/install-deps.sh build|test|deb
# Every package the project needs is named here, so that a fresh Debian 12
# machine (a developer's or CI's) gets the same tools.
set -euo pipefail

build=(
  pkg-config clang libclang-dev            # bindgen for tesseract-sys/leptonica-sys
  libtesseract-dev libleptonica-dev        # the OCR engine
  tesseract-ocr-fra tesseract-ocr-eng      # its French and English data
  poppler-utils                            # pdftoppm: renders vector pages
  jbig2dec                                 # decodes JBIG2 scans
)
deb=(
  "${build[@]}"
  dpkg-dev                                 # dpkg-shlibdeps: the package's library dependencies
)
test=(
  "${build[@]}"
  dovecot-imapd dovecot-lmtpd postfix      # the real mail servers of the tests
  openssl                                  # test certificates
  qpdf img2pdf imagemagick libtiff-tools   # the corpus generator's scanner
  python3 python3-reportlab python3-pypdf python3-pil python3-numpy
  fonts-crosextra-carlito fonts-liberation2 # the generator's typed fields
  fonts-dkg-handwriting fonts-breip fonts-sjfonts fonts-comic-neue # its handwritten ones
  tesseract-ocr                            # the generic pipeline in `make bench`
)

case "${1:-build}" in
  build) wanted=("${build[@]}") ;;
  test) wanted=("${test[@]}") ;;
  deb) wanted=("${deb[@]}") ;;
  *) echo "usage: $0 build|test|deb" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

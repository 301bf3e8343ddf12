# What `cmake --install` puts where, and the Debian package (CPack's DEB generator; ci/package.sh
# runs it). Installed: framespec and echod (bin/), the HTML report tool, its template and the spec
# (share/framespec/, where report_html.c looks: BIN/../share/framespec), the man pages
# framespec(1) and echod(8) (written as source in man/), a bash completion, and the package's
# copyright and changelog. Mutant servers, baseline_echod, fuzz drivers and unit tests are test
# artefacts: built for ctest, never installed.
install(TARGETS framespec echod RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES harness/html/framespec_report.py harness/html/report.html.j2 docs/spec.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/framespec)
install(FILES completions/framespec.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME framespec)
install(FILES completions/framespec.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME echod)

# man pages and the changelog gzip -9n compressed at build time (Debian policy 12.3, 12.7)
find_program(GZIP gzip REQUIRED)
set(fs_compressed "")
foreach(src man/framespec.1 man/echod.8 packaging/changelog)
  get_filename_component(name ${src} NAME)
  if(name STREQUAL "changelog")
    set(name changelog)
  endif()
  set(out ${CMAKE_BINARY_DIR}/compressed/${name}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/compressed
    COMMAND ${GZIP} -9nc ${PROJECT_SOURCE_DIR}/${src} > ${out}
    DEPENDS ${PROJECT_SOURCE_DIR}/${src} VERBATIM)
  list(APPEND fs_compressed ${out})
endforeach()
add_custom_target(fs_compressed ALL DEPENDS ${fs_compressed})
install(FILES ${CMAKE_BINARY_DIR}/compressed/framespec.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/compressed/echod.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_BINARY_DIR}/compressed/changelog.gz packaging/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME framespec)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "framespec developers <framespec@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "conformance suite, fuzzer and reference server for framed TCP servers")
set(CPACK_PACKAGE_DESCRIPTION
  "framespec judges any server that speaks a length-prefixed (or line) framing\n"
  "over TCP or a Unix socket: a catalogue of cases tied to a written spec\n"
  "(partial reads, half-close, RST, idle and vanished peers, backpressure,\n"
  "descriptor exhaustion), graded verdicts, TAP, JUnit, JSON and HTML reports\n"
  "and exit codes a CI gate can trust, a reproducer for every failure, a\n"
  "stateful network fuzzer with shrinking and a load generator. echod is its\n"
  "reference framed echo server.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # framespec_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # Depends from the binaries: libc6, libjansson4, libxml2
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-jinja2, nftables, tcpdump")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/framespec")
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS ${CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS})
# only what install() names goes in: no test artefact is built for the package either
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};framespec;ALL;/")
include(CPack)

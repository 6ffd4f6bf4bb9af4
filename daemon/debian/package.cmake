# System integration (systemd unit, udev rules, configuration, man pages) and
# the Debian package: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr. Included from the top-level CMakeLists.txt
# after every install() rule.

set(NORDIC_DEB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(NORDIC_DAEMON_DIR ${CMAKE_CURRENT_LIST_DIR}/..)

# Man pages are plain roff (daemon/man), installed for any prefix.
install(FILES ${NORDIC_DAEMON_DIR}/man/nordicd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${NORDIC_DAEMON_DIR}/man/nordicd.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${NORDIC_DAEMON_DIR}/man/nordctl.1 ${NORDIC_DAEMON_DIR}/man/nordic-watch.1
              ${NORDIC_DAEMON_DIR}/man/nordic-trial.1 ${NORDIC_DAEMON_DIR}/man/nordic-devsim.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
if(TARGET nordic-report)
  install(FILES ${NORDIC_DAEMON_DIR}/man/nordic-report.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The unit runs the installed nordicd, wherever the prefix puts it.
configure_file(${NORDIC_DAEMON_DIR}/systemd/nordicd.service.in
               ${CMAKE_BINARY_DIR}/nordicd.service @ONLY)
pkg_get_variable(NORDIC_UNIT_DIR systemd systemdsystemunitdir)
if(NOT NORDIC_UNIT_DIR)
  set(NORDIC_UNIT_DIR /lib/systemd/system)
endif()
pkg_get_variable(NORDIC_UDEV_DIR udev udevdir)
if(NOT NORDIC_UDEV_DIR)
  set(NORDIC_UDEV_DIR /lib/udev)
endif()
install(FILES ${CMAKE_BINARY_DIR}/nordicd.service DESTINATION ${NORDIC_UNIT_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/udev/60-nordic.rules DESTINATION ${NORDIC_UDEV_DIR}/rules.d)
install(FILES ${NORDIC_DAEMON_DIR}/nordicd.conf DESTINATION /etc/nordicd)
# nordic-station (issue 13): unit (not enabled by the package), config, man page.
set(NORDIC_CONFFILES ${NORDIC_DEB_DIR}/conffiles)
if(TARGET nordic-station)
  configure_file(${NORDIC_DAEMON_DIR}/systemd/nordic-station.service.in
                 ${CMAKE_BINARY_DIR}/nordic-station.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/nordic-station.service DESTINATION ${NORDIC_UNIT_DIR})
  install(FILES ${CMAKE_SOURCE_DIR}/tools/station/nordic-station.conf DESTINATION /etc/nordic-station)
  install(FILES ${NORDIC_DAEMON_DIR}/man/nordic-station.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  file(READ ${NORDIC_DEB_DIR}/conffiles NORDIC_CONFFILES_TEXT)
  file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles
       "${NORDIC_CONFFILES_TEXT}/etc/nordic-station/nordic-station.conf\n")
  set(NORDIC_CONFFILES ${CMAKE_BINARY_DIR}/deb/conffiles)
endif()
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Debian package: configure with -DCMAKE_INSTALL_PREFIX=/usr for the "
                 "Debian layout (now ${CMAKE_INSTALL_PREFIX})")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nordicd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "nordicd maintainers <nordicd@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "acquisition daemon for instrumented Nordic hamstring curl boards")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "nordicd reads the load cells of a Nordic hamstring curl board (USB, serial,\n"
    "TCP), computes per-leg peak force and left/right asymmetry live, writes\n"
    "crash-safe HDF5 trial files and publishes live metrics over ZeroMQ. Includes\n"
    "nordctl, nordic-watch, nordic-trial, a hardened systemd service and udev\n"
    "rules that start it when a supported board is plugged in.")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/nordicd")
# Library dependencies come from dpkg-shlibdeps; the maintainer scripts need
# adduser, and deb-systemd-helper (init-system-helpers).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, udev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${NORDIC_DEB_DIR}/postinst ${NORDIC_DEB_DIR}/prerm ${NORDIC_DEB_DIR}/postrm
    ${NORDIC_CONFFILES})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only the runtime programs go into the package (no benchmarks or tests).
include(CPack)

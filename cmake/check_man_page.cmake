# Fails when groff has anything to say about the manual page PAGE (-ww: every warning).
if(NOT GROFF)
  message(FATAL_ERROR "groff not found: apt-get install groff-base (scripts/bootstrap.sh does)")
endif()
execute_process(COMMAND ${GROFF} -man -Tutf8 -ww -z ${PAGE}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "groff on ${PAGE} (exit ${rc}):\n${err}")
endif()

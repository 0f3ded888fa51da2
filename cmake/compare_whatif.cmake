# Runs `BIN replay -q -c BEFORE --compare AFTER ARGS IN` (ARGS: a ;-list of
# extra options) and fails unless it exits RC and, when EXPECTED is given,
# prints EXPECTED byte for byte; with CONTAINS, unless its output has that text.
execute_process(COMMAND ${BIN} replay -q -c ${BEFORE} --compare ${AFTER} ${ARGS} ${IN}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL RC)
  message(FATAL_ERROR "replay --compare exited ${rc}, not ${RC}: ${err}\n${out}")
endif()
if(DEFINED EXPECTED)
  file(READ ${EXPECTED} expected)
  if(NOT out STREQUAL expected)
    get_filename_component(name ${EXPECTED} NAME)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}.actual "${out}")
    message(FATAL_ERROR "replay --compare differs from ${EXPECTED}; actual output in ${CMAKE_CURRENT_BINARY_DIR}/${name}.actual")
  endif()
endif()
if(DEFINED CONTAINS)
  string(FIND "${out}" "${CONTAINS}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "replay --compare printed no '${CONTAINS}':\n${out}")
  endif()
endif()

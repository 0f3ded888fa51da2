# Writes the manual page: what `BIN help --man` prints, into OUT.
execute_process(COMMAND ${BIN} help --man OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "${BIN} help --man exited ${rc}")
endif()
file(RENAME ${OUT}.tmp ${OUT})

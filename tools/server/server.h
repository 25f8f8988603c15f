/* server.h -- `densearch serve`, the HTTP/JSON server (tools/server/), linked
** into the densearch binary; see docs/server.md. */
#ifndef DS_SERVER_H
#define DS_SERVER_H

/* argv[0] is the command name. Runs until SIGTERM/SIGINT; returns the exit
** code (0 after a clean shutdown, 1 on a start-up failure, 2 on bad usage). */
int cmd_serve(int argc, char **argv);

#endif /* DS_SERVER_H */

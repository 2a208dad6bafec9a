#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime.h"

extern char **environ;

void noisy_main(const struct request *req, struct response *res) {
    const char *p = req->payload;
    printf("noisy-stdout %s\n", p);
    fprintf(stderr, "noisy-stderr %s\n", p);
    fflush(stdout);
    /* The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script. */
    char *argv[] = {"sh", "-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", (char *)p, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) == 0) waitpid(pid, &status, 0);
    char line[256];
    int n = snprintf(line, sizeof line, "noisy-fd1 %s\n", p);
    if (write(1, line, (size_t)n) < 0) perror("write");
    char reply[256];
    snprintf(reply, sizeof reply, "quiet %s", p);
    res_send(res, reply, 200);
}

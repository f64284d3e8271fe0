/* Atomic file writing: temporary file + rename, see nnc/fileio.h. */
#include "nnc/fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void atomic_release(AtomicFile *af)
{
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->f = NULL;
}

bool atomic_open(Diag *d, const char *path, AtomicFile *af)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(n + sizeof ".tmp.XXXXXX");
    if (!af->path || !af->tmp_path) {
        atomic_release(af);
        diag_error(d, loc_none(), "out of memory opening '%s'", path);
        return false;
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        diag_error(d, loc_none(), "cannot write '%s': %s", path, strerror(errno));
        atomic_release(af);
        return false;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        diag_error(d, loc_none(), "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(af->tmp_path);
        atomic_release(af);
        return false;
    }
    return true;
}

/* The mode open(path, O_CREAT, 0666) would give: mkstemp makes 0600. */
static mode_t usual_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

bool atomic_commit(Diag *d, AtomicFile *af)
{
    bool ok = fflush(af->f) == 0 && !ferror(af->f) &&
              fchmod(fileno(af->f), af->mode ? (mode_t)af->mode : usual_mode()) == 0 && fsync(fileno(af->f)) == 0;
    int err = errno;
    if (fclose(af->f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    af->f = NULL;
    if (ok && rename(af->tmp_path, af->path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        diag_error(d, loc_none(), "cannot write '%s': %s", af->path, strerror(err));
        unlink(af->tmp_path);
    }
    atomic_release(af);
    return ok;
}

void atomic_abort(AtomicFile *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp_path)
        unlink(af->tmp_path);
    atomic_release(af);
}

bool atomic_probe(Diag *d, const char *path)
{
    /* rename() cannot replace a folder: say so now, not after the run. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_error(d, loc_none(), "cannot write '%s': it is a folder", path);
        return false;
    }
    AtomicFile af;
    if (!atomic_open(d, path, &af))
        return false;
    atomic_abort(&af);
    return true;
}

/* mkdir -p: every missing folder along path, then a probe file inside. */
bool dir_prepare(Diag *d, const char *path)
{
    size_t n = strlen(path);
    char *buf = malloc(n + 32);
    if (!buf) {
        diag_error(d, loc_none(), "out of memory");
        return false;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            diag_error(d, loc_none(), "cannot create folder '%s': %s", buf, strerror(errno));
            free(buf);
            return false;
        }
        buf[i] = c;
    }
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ok)
        diag_error(d, loc_none(), "'%s' is not a folder", path);
    snprintf(buf, n + 32, "%s/.nnc-probe", path);
    ok = ok && atomic_probe(d, buf);
    free(buf);
    return ok;
}

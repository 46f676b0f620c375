/* fastmlp's C API: load a model file saved by fastmlp (Python, the CLI or C++) and predict with it,
 * from C or any language that calls C (ctypes, Rust, Go, C#, Julia, ...).
 *
 * Link fastmlp::c (libfastmlp_c.so, the C++ runtime inside it as a dependency of the library) or
 * fastmlp::c_static (libfastmlp_c.a; link it with a C++ linker, which CMake picks by itself) and
 * include "fastmlp/fastmlp.h". C11 or C++; nothing of C++ crosses this interface.
 *
 * Status and errors. Every function that can fail returns a fastmlp_status: FASTMLP_OK (0) or an
 * error code; then fastmlp_last_error() is a message saying what went wrong, kept per thread until
 * that thread's next failing call (like errno: a call that succeeds leaves it as it was). A call that
 * fails changes nothing: no handle is created, no output buffer is written (one exception: a
 * prediction of more than max_rows rows runs chunk by chunk, every input checked first, and when a
 * chunk's outputs come out NaN, finite inputs overflowing inside the layers, the rows of the chunks
 * before it have been written). Any file, however truncated or hostile, gives
 * FASTMLP_ERR_INVALID_MODEL (or FASTMLP_ERR_IO), never a crash.
 *
 * Handles. A fastmlp_model is a loaded model: its parameters, read-only after loading, and what the
 * file says about it (sizes, dtype, class labels, feature names). A fastmlp_workspace holds the
 * scratch memory of one prediction at a time (each layer's outputs for up to max_rows rows, and
 * the conversion of inputs and outputs between float and double).
 *
 * Threads. A model may be used by any number of threads at once, each through its own workspace
 * (one workspace per thread; a workspace used by two threads at the same moment answers the second
 * with FASTMLP_ERR_BUSY instead of corrupting the first). Predictions run on the calling thread
 * only (fastmlp's product threads are not used: the program owns its threads). The model must
 * outlive its workspaces.
 *
 * Real time. After fastmlp_workspace_create and one prediction on the thread, fastmlp_predict*
 * allocate no memory and take no lock: a prediction of any number of rows runs in chunks of at most
 * max_rows rows through the workspace's buffers. (The matrix products keep a packing buffer per
 * thread for products of more than 4 rows, and a quantized (int8) layer a buffer per thread for its
 * rows of quantized inputs, grown to the largest one the thread has run: the thread that creates a
 * workspace has them sized for max_rows; on another thread, the first prediction of a full chunk of
 * max_rows rows sizes them for good.)
 *
 * Arrays are row-major, one sample per row, contiguous: X is n_rows x n_inputs, outputs n_rows x
 * n_outputs (or n_classes). The model's preprocessing (its Normalization layers) runs inside
 * the model, so X holds the raw features in the order of the training columns (feature names).
 *
 * Predictions equal Python's fm.load(path).forward / predict_proba / predict for the same rows and
 * dtype (the same code runs them); fastmlp_predict on a float64 model converts X to double and the
 * outputs to float, fastmlp_predict_f64 on a float32 model the other way round. One exception, for
 * speed: a call of one row on a model of float Dense layers only (and Dropouts) runs a one-row kernel
 * whose sums go in another order than the batch's products, so its outputs agree with Python's to
 * float rounding (a few units in the last place), not bit for bit. */
#ifndef FASTMLP_FASTMLP_H
#define FASTMLP_FASTMLP_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(FASTMLP_C_BUILDING_SHARED)
#define FASTMLP_C_EXPORT __declspec(dllexport)
#elif defined(_WIN32) && defined(FASTMLP_C_SHARED)
#define FASTMLP_C_EXPORT __declspec(dllimport)
#elif defined(__GNUC__)
#define FASTMLP_C_EXPORT __attribute__((visibility("default")))
#else
#define FASTMLP_C_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface: a program built against version N runs with a library of the same
 * N (fastmlp_c_api_version() says which the library has). */
#define FASTMLP_C_API_VERSION 1

typedef enum fastmlp_status {
  FASTMLP_OK = 0,
  FASTMLP_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a size that does not fit, X with NaN or inf, ... */
  FASTMLP_ERR_INVALID_MODEL = 2,    /* not a valid fastmlp model file (truncated, corrupt, hostile) */
  FASTMLP_ERR_IO = 3,               /* the file cannot be opened or read */
  FASTMLP_ERR_OUT_OF_MEMORY = 4,
  FASTMLP_ERR_NOT_CLASSIFIER = 5, /* predict_proba / predict_class on a model without classes */
  FASTMLP_ERR_BUSY = 6,           /* the workspace is in use by another thread right now */
  FASTMLP_ERR_INTERNAL = 7        /* a bug in fastmlp: please report it with the message */
} fastmlp_status;

typedef enum fastmlp_dtype { FASTMLP_FLOAT32 = 1, FASTMLP_FLOAT64 = 2 } fastmlp_dtype;

/* What the model's outputs are, from its loss:
 *   REGRESSION      values (mse, mae, huber, poisson): fastmlp_predict only;
 *   CLASSIFICATION  one class per row: softmax outputs (categorical_crossentropy), n_classes =
 *                   n_outputs, or one sigmoid output (binary_crossentropy), n_classes = 2;
 *   MULTILABEL      several sigmoid outputs (binary_crossentropy), each a yes/no: n_classes =
 *                   n_outputs probabilities, no single class (predict_class refuses). */
typedef enum fastmlp_task { FASTMLP_REGRESSION = 0, FASTMLP_CLASSIFICATION = 1, FASTMLP_MULTILABEL = 2 } fastmlp_task;

typedef struct fastmlp_model fastmlp_model;
typedef struct fastmlp_workspace fastmlp_workspace;

/* ---- the library ---- */

/* The message of this thread's latest failing call ("" if none failed yet). Valid until this thread's
 * next failing call; never NULL. UTF-8, at most 1023 bytes. */
FASTMLP_C_EXPORT const char* fastmlp_last_error(void);
/* "FASTMLP_OK", "FASTMLP_ERR_INVALID_MODEL", ...; "unknown status" for other values. */
FASTMLP_C_EXPORT const char* fastmlp_status_name(fastmlp_status status);
/* fastmlp's version ("0.9.0") and the C API's (FASTMLP_C_API_VERSION). */
FASTMLP_C_EXPORT const char* fastmlp_version(void);
FASTMLP_C_EXPORT int fastmlp_c_api_version(void);

/* ---- models ---- */

/* Loads a model file (a path in the file system's encoding) or a model file's bytes (the data is
 * copied: the caller may free it after the call). *model is set on success, left alone on failure. */
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_load(const char* path, fastmlp_model** model);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_load_bytes(const void* data, size_t size, fastmlp_model** model);
/* Frees a model (NULL: nothing). Free its workspaces first. */
FASTMLP_C_EXPORT void fastmlp_model_free(fastmlp_model* model);

/* Features per row, outputs per row, the parameters' dtype, the task, and the classes: 2 for one
 * sigmoid output, n_outputs for softmax or multi-label outputs, 0 for regression. */
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_n_inputs(const fastmlp_model* model, size_t* n_inputs);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_n_outputs(const fastmlp_model* model, size_t* n_outputs);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_dtype(const fastmlp_model* model, fastmlp_dtype* dtype);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_task(const fastmlp_model* model, fastmlp_task* task);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_n_classes(const fastmlp_model* model, size_t* n_classes);

/* The label of class i (0 <= i < n_classes), as Python's model.classes_[i] prints: the label the
 * model was fitted on (a string label as it is; a number or boolean as its text: "3", "0.5",
 * "True"), or "i" when it was fitted on class ids. UTF-8, NUL-terminated, owned by the model. */
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_class_label(const fastmlp_model* model, size_t i, const char** label);
/* The name of feature j (0 <= j < n_inputs): a DataFrame's column name at the first fit (Python's
 * feature_names_in_). *has_names is 0 when the file holds none (then fastmlp_model_feature_name fails). */
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_has_feature_names(const fastmlp_model* model, int* has_names);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_feature_name(const fastmlp_model* model, size_t j, const char** name);

/* ---- workspaces and predictions ---- */

/* Scratch memory for predicting with `model`, up to max_rows >= 1 rows per pass (more rows run in
 * several passes; max_rows 1 suits one sample at a time). */
FASTMLP_C_EXPORT fastmlp_status fastmlp_workspace_create(const fastmlp_model* model, size_t max_rows,
                                                         fastmlp_workspace** workspace);
FASTMLP_C_EXPORT void fastmlp_workspace_free(fastmlp_workspace* workspace);

/* The output layer's activations (n_rows x n_outputs): softmax rows, sigmoid probabilities, or
 * the regression values; Python's model.forward(X) (and predict for regression). n_rows >= 1. */
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict(fastmlp_workspace* workspace, const float* X, size_t n_rows,
                                                float* outputs);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_f64(fastmlp_workspace* workspace, const double* X, size_t n_rows,
                                                    double* outputs);
/* Class probabilities (n_rows x n_classes): softmax rows as they are, [1 - p, p] for one sigmoid
 * output, multi-label sigmoid outputs as they are (Python's predict_proba). Classifiers only. */
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_proba(fastmlp_workspace* workspace, const float* X, size_t n_rows,
                                                      float* proba);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_proba_f64(fastmlp_workspace* workspace, const double* X, size_t n_rows,
                                                          double* proba);
/* The class of each row (n_rows indices into the class labels): the arg-max of the softmax row (the
 * first of equal ones), or p >= 0.5 for one sigmoid output (Python's predict, as indices). Single-label
 * classifiers only (FASTMLP_CLASSIFICATION). */
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_class(fastmlp_workspace* workspace, const float* X, size_t n_rows,
                                                      int32_t* classes);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_class_f64(fastmlp_workspace* workspace, const double* X, size_t n_rows,
                                                          int32_t* classes);

/* ---- raw rows of text cells ----
 *
 * A model fitted on a DataFrame takes its rows as the DataFrame held them: one text cell per column
 * (what a CSV line holds, unquoted), in the order of the DataFrame's columns at the first fit. The
 * model file says how each becomes the network's input (Python's fastmlp.tabular.Columns.encode,
 * C++'s fastmlp/raw_rows.hpp): a numeric column's cell read as a number ("True"/"False" as 1/0), a
 * missing cell ("", "NA", "NaN", "nan", "None", "NULL", ... as pandas' read_csv reads missing values)
 * filled with the column's median plus a missing indicator when the model has fill_missing (else
 * refused); a category column's cell as its category's code (a text category by its exact text, a
 * number category by value: "1", "1.0" and "1e0" are the category 1; a bool category by "True" /
 * "False" in any case), an unseen one as the out-of-vocabulary entry, a missing one as the missing
 * entry. A model of numbers only takes one cell per input. So a CSV row predicts what
 * fm.load(path).predict(pd.read_csv(csv)) and `python -m fastmlp predict` give for it.
 *
 * cells: n_rows x n_columns pointers to NUL-terminated UTF-8 cells, row-major. Outputs as fastmlp_predict,
 * fastmlp_predict_proba and fastmlp_predict_class write them. A cell a column cannot take (not a number
 * in a numeric column, missing without fill_missing, infinite) gives FASTMLP_ERR_INVALID_ARGUMENT naming
 * its row and column, and nothing is written. No allocation per call after the first (as above) for
 * models of up to 64 raw columns; a wider model allocates one small array per row. */

/* The raw columns per row, and the name of column j (0 <= j < n_columns): the DataFrame's column names
 * (the header of a CSV to read them from); a model of numbers only has its feature names, and
 * fastmlp_model_column_name fails when its file holds none (its cells are its inputs in order). */
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_n_columns(const fastmlp_model* model, size_t* n_columns);
FASTMLP_C_EXPORT fastmlp_status fastmlp_model_column_name(const fastmlp_model* model, size_t j, const char** name);

FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_text(fastmlp_workspace* workspace, const char* const* cells,
                                                     size_t n_rows, float* outputs);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_text_f64(fastmlp_workspace* workspace, const char* const* cells,
                                                         size_t n_rows, double* outputs);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_proba_text(fastmlp_workspace* workspace, const char* const* cells,
                                                           size_t n_rows, float* proba);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_proba_text_f64(fastmlp_workspace* workspace, const char* const* cells,
                                                               size_t n_rows, double* proba);
FASTMLP_C_EXPORT fastmlp_status fastmlp_predict_class_text(fastmlp_workspace* workspace, const char* const* cells,
                                                           size_t n_rows, int32_t* classes);

#ifdef __cplusplus
}
#endif

#endif /* FASTMLP_FASTMLP_H */
